import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allowedHooks } from './allowed-hooks.ts';

test('programs are listed with colons, from the environment and the flag together, each once', () => {
  assert.deepEqual(allowedHooks(['/usr/local/sbin/os-upgrade: /opt/k8s/upgrade', '/opt/k8s/upgrade']), [
    '/usr/local/sbin/os-upgrade',
    '/opt/k8s/upgrade',
  ]);
  assert.deepEqual(allowedHooks(['', '::']), []);
});

test('a relative path is refused with a code, naming it', () => {
  assert.throws(
    () => allowedHooks(['/usr/local/sbin/os-upgrade:os-upgrade']),
    (e: Error & { code?: string }) =>
      e.code === 'request_invalid' && /"os-upgrade" is not an absolute path/.test(e.message),
  );
});
