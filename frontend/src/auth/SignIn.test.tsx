import { fireEvent, screen, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { fakeJwt, json } from '../test/helpers';
import { renderWithServices } from '../test/render';
import { useSession } from './session';
import { SignIn } from './SignIn';

describe('SignIn', () => {
  it('signs in and stores the session', async () => {
    useSession.getState().setTokens(null);
    const idToken = fakeJwt({ email: 'doc@example.org', exp: 4_000_000_000 });
    renderWithServices(<SignIn />, () => json({}), () => json({ AuthenticationResult: { IdToken: idToken, AccessToken: 'a', RefreshToken: 'r' } }));
    fireEvent.change(screen.getByLabelText('Email or username'), { target: { value: 'doc@example.org' } });
    fireEvent.change(screen.getByLabelText('Password'), { target: { value: 'pw' } });
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    await waitFor(() => expect(useSession.getState().user).toBe('doc@example.org'));
  });

  it('shows a readable error for a wrong password', async () => {
    useSession.getState().setTokens(null);
    renderWithServices(<SignIn />, () => json({}), () => json({ __type: 'NotAuthorizedException', message: 'x' }, 400));
    fireEvent.change(screen.getByLabelText('Email or username'), { target: { value: 'a' } });
    fireEvent.change(screen.getByLabelText('Password'), { target: { value: 'b' } });
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    await waitFor(() => expect(screen.getByRole('alert')).toHaveTextContent('Incorrect username or password.'));
    expect(useSession.getState().tokens).toBeNull();
  });

  it('says the session expired instead of a silent return to sign-in', () => {
    useSession.getState().expire();
    renderWithServices(<SignIn />, () => json({}), () => json({}));
    expect(screen.getByRole('status')).toHaveTextContent('Your session expired — please sign in again.');
  });

  it('says nothing about expiry after a deliberate sign-out', () => {
    useSession.getState().setTokens(null);
    renderWithServices(<SignIn />, () => json({}), () => json({}));
    expect(screen.queryByText(/session expired/)).toBeNull();
  });
});
