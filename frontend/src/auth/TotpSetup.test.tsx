import { fireEvent, screen, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { fakeJwt, json } from '../test/helpers';
import { renderWithServices } from '../test/render';
import { useSession } from './session';
import { TotpSetup } from './TotpSetup';

describe('TotpSetup', () => {
  it('shows the secret, verifies a code and turns TOTP on as the preferred MFA', async () => {
    useSession.getState().setTokens({ idToken: fakeJwt({ email: 'doc@example.org', exp: 4_000_000_000 }), accessToken: 'acc', refreshToken: 'r', expiresAt: 4_000_000_000_000 });
    const { cognitoCalls } = renderWithServices(<TotpSetup />, () => json({}), (_url, init) => {
      const target = (init.headers as Record<string, string>)['X-Amz-Target'];
      if (target.endsWith('AssociateSoftwareToken')) return json({ SecretCode: 'JBSWY3DPEHPK3PXP' });
      if (target.endsWith('VerifySoftwareToken')) return json({ Status: 'SUCCESS' });
      return json({});
    });
    fireEvent.click(screen.getByRole('button', { name: 'Turn on two-step sign-in' }));
    expect(await screen.findByTestId('totp-secret')).toHaveTextContent('JBSWY3DPEHPK3PXP');
    fireEvent.change(screen.getByLabelText('Code'), { target: { value: '123456' } });
    fireEvent.click(screen.getByRole('button', { name: 'Verify and turn on' }));
    await waitFor(() => expect(screen.getByText(/Two-step sign-in is on/)).toBeInTheDocument());
    const bodies = cognitoCalls.map((c) => JSON.parse(c.init.body as string));
    expect(bodies[1]).toEqual({ AccessToken: 'acc', UserCode: '123456', FriendlyDeviceName: 'IRIS Oculus' });
    expect(bodies[2]).toEqual({ AccessToken: 'acc', SoftwareTokenMfaSettings: { Enabled: true, PreferredMfa: true } });
  });

  it('keeps TOTP off when the code is refused', async () => {
    useSession.getState().setTokens({ idToken: fakeJwt({ exp: 4_000_000_000 }), accessToken: 'acc', refreshToken: 'r', expiresAt: 4_000_000_000_000 });
    const { cognitoCalls } = renderWithServices(<TotpSetup />, () => json({}), (_url, init) => {
      const target = (init.headers as Record<string, string>)['X-Amz-Target'];
      if (target.endsWith('AssociateSoftwareToken')) return json({ SecretCode: 'S' });
      return json({ __type: 'EnableSoftwareTokenMFAException', message: 'Code mismatch' }, 400);
    });
    fireEvent.click(screen.getByRole('button', { name: 'Turn on two-step sign-in' }));
    fireEvent.change(await screen.findByLabelText('Code'), { target: { value: '000000' } });
    fireEvent.click(screen.getByRole('button', { name: 'Verify and turn on' }));
    expect(await screen.findByRole('alert')).toBeInTheDocument();
    expect(cognitoCalls.some((c) => (c.init.headers as Record<string, string>)['X-Amz-Target'].endsWith('SetUserMFAPreference'))).toBe(false);
  });
});
