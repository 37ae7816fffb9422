import { useState, type FormEvent } from 'react';
import { useServices } from '../state/services';
import { SESSION_EXPIRED, useSession } from './session';

export function SignIn() {
  const { cognito } = useServices();
  const { setTokens, setChallenge, challenge, ended } = useSession();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [newPassword, setNewPassword] = useState('');
  const [code, setCode] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      let out;
      if (challenge?.challenge === 'SOFTWARE_TOKEN_MFA') out = await cognito.completeTotp(challenge, code.trim());
      else if (challenge) out = await cognito.completeNewPassword(challenge, newPassword);
      else out = await cognito.signIn(username.trim(), password);
      if ('challenge' in out) setChallenge(out);
      else setTokens(out);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="flex min-h-screen items-center justify-center p-4">
      <form onSubmit={submit} className="w-80 space-y-3 rounded border border-slate-800 bg-slate-900 p-5" aria-labelledby="signin-title">
        <h1 id="signin-title" className="text-lg font-semibold text-slate-50">
          IRIS Oculus
        </h1>
        <p className="text-xs text-slate-400">
          {challenge?.challenge === 'SOFTWARE_TOKEN_MFA'
            ? 'Enter the 6-digit code from your authenticator app.'
            : challenge
              ? 'Choose a new password to finish signing in.'
              : 'Sign in to upload scans and view results.'}
        </p>
        {ended === 'expired' && !challenge && (
          <p role="status" className="rounded border border-amber-700 bg-amber-950 px-2 py-1 text-xs text-amber-200">
            {SESSION_EXPIRED}
          </p>
        )}
        {!challenge && (
          <>
            <label className="block text-xs">
              <span className="text-slate-300">Email or username</span>
              <input className="input mt-1" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} required autoFocus />
            </label>
            <label className="block text-xs">
              <span className="text-slate-300">Password</span>
              <input className="input mt-1" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
            </label>
          </>
        )}
        {challenge?.challenge === 'SOFTWARE_TOKEN_MFA' && (
          <label className="block text-xs">
            <span className="text-slate-300">Authentication code</span>
            <input className="input mt-1" inputMode="numeric" autoComplete="one-time-code" pattern="[0-9]{6}" value={code} onChange={(e) => setCode(e.target.value)} required autoFocus />
          </label>
        )}
        {challenge?.challenge === 'NEW_PASSWORD_REQUIRED' && (
          <label className="block text-xs">
            <span className="text-slate-300">New password</span>
            <input className="input mt-1" type="password" autoComplete="new-password" value={newPassword} onChange={(e) => setNewPassword(e.target.value)} required autoFocus />
          </label>
        )}
        {error && (
          <p role="alert" className="text-xs text-red-400">
            {error}
          </p>
        )}
        <button type="submit" className="btn-primary w-full" disabled={busy}>
          {busy ? 'Signing in…' : challenge?.challenge === 'SOFTWARE_TOKEN_MFA' ? 'Verify' : challenge ? 'Set password' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
