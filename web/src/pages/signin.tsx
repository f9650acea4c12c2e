// Sign-in: the operator pastes an API token (from `outpost token create-api` or the first admin token).
// It is checked against GET /api/v1/whoami and kept only for this browser tab.

import { useState } from 'preact/hooks';
import { signIn } from '../api.ts';

export function SignIn() {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await signIn(token.trim());
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="signin">
      <h1>Outpost</h1>
      <form onSubmit={submit} aria-describedby="signin-help">
        <label for="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="off"
          required
          value={token}
          onInput={(e) => setToken((e.target as HTMLInputElement).value)}
        />
        <p id="signin-help" class="note">
          Paste an operator API token (it starts with <code>oat_</code>). It is kept for this tab only and
          sent in the Authorization header.
        </p>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}
