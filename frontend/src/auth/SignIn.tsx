import { useState, type FormEvent } from 'react';
import { useServices } from '../state/services';
import { useSession } from './session';

export function SignIn() {
  const { cognito } = useServices();
  const { setTokens, setChallenge, challenge } = useSession();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [newPassword, setNewPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (challenge) setTokens(await cognito.completeNewPassword(challenge, newPassword));
      else {
        const out = await cognito.signIn(username.trim(), password);
        if ('challenge' in out) setChallenge(out);
        else setTokens(out);
      }
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
        <p className="text-xs text-slate-400">{challenge ? 'Choose a new password to finish signing in.' : 'Sign in to upload scans and view results.'}</p>
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
        {challenge && (
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
          {busy ? 'Signing in…' : challenge ? 'Set password' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
