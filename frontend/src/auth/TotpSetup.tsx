import { useState, type FormEvent } from 'react';
import { useServices } from '../state/services';
import { useSession } from './session';

/** Optional TOTP MFA for the signed-in user: show the secret for an authenticator app, check
 * one code, then every sign-in asks for a code (the pool's MFA is OPTIONAL). */
export function TotpSetup({ onDone }: { onDone?: () => void }) {
  const { cognito } = useServices();
  const accessToken = useSession((s) => s.tokens?.accessToken);
  const user = useSession((s) => s.user);
  const [secret, setSecret] = useState<string | null>(null);
  const [code, setCode] = useState('');
  const [state, setState] = useState<'idle' | 'busy' | 'done'>('idle');
  const [error, setError] = useState<string | null>(null);

  async function run(step: () => Promise<void>) {
    setState('busy');
    setError(null);
    try {
      await step();
    } catch (e) {
      setError((e as Error).message);
      setState('idle');
    }
  }

  if (!accessToken) return null;
  if (state === 'done') return <p className="text-xs text-emerald-300">Two-step sign-in is on: each sign-in now asks for a code.</p>;
  if (!secret)
    return (
      <section className="space-y-2 text-xs" aria-label="Two-step sign-in">
        <button type="button" className="btn" disabled={state === 'busy'} onClick={() => run(async () => (setSecret(await cognito.beginTotpSetup(accessToken)), setState('idle')))}>
          Turn on two-step sign-in
        </button>
        {error && <p role="alert" className="text-red-400">{error}</p>}
      </section>
    );
  const uri = `otpauth://totp/IRIS%20Oculus:${encodeURIComponent(user ?? 'user')}?secret=${secret}&issuer=IRIS%20Oculus`;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      await cognito.finishTotpSetup(accessToken, code.trim());
      setState('done');
      onDone?.();
    });
  };
  return (
    <form onSubmit={submit} className="space-y-2 text-xs" aria-label="Two-step sign-in">
      <p className="text-slate-300">Add this key to your authenticator app, then enter the code it shows.</p>
      <code className="block break-all rounded bg-slate-800 p-2" data-testid="totp-secret">{secret}</code>
      <a className="underline" href={uri}>Open in an authenticator app</a>
      <label className="block">
        <span className="text-slate-300">Code</span>
        <input className="input mt-1" inputMode="numeric" autoComplete="one-time-code" pattern="[0-9]{6}" value={code} onChange={(e) => setCode(e.target.value)} required />
      </label>
      {error && <p role="alert" className="text-red-400">{error}</p>}
      <button type="submit" className="btn-primary" disabled={state === 'busy'}>Verify and turn on</button>
    </form>
  );
}
