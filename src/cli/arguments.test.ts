import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OutpostError } from '../model/errors.ts';
import { helmLogin } from './arguments.ts';

test('--helm-login names a host, a user and the variable holding the password', () => {
  assert.deepEqual(helmLogin('registry.example.com:5000=bot:CHARTS_TOKEN'), {
    host: 'registry.example.com:5000',
    username: 'bot',
    passwordEnv: 'CHARTS_TOKEN',
  });
  for (const bad of [
    'registry.example.com=bot',
    'bot:TOKEN',
    'host=bot:not-a-variable',
    'host=bot:secret value',
  ]) {
    assert.throws(
      () => helmLogin(bad),
      (e: unknown) => e instanceof OutpostError && e.code === 'request_invalid' && e.message.includes(bad),
    );
  }
});
