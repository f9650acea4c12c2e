import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  ensureLocalPageToken,
  isLoopbackHost,
  LocalPageAccess,
  localPageTokenFile,
  presentedToken,
  rotateLocalPageToken,
} from './local-page-access.ts';

test('loopback binds are told from the others', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1'])
    assert.equal(isLoopbackHost(h), true, h);
  for (const h of ['0.0.0.0', '::', '192.168.1.10', '10.0.0.1', 'store-7.local', '::ffff:10.0.0.1'])
    assert.equal(isLoopbackHost(h), false, h);
});

test('a token is made once, kept only as its digest, and a rotation replaces it at once', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-lp-'));
  try {
    const token = await ensureLocalPageToken(dir);
    assert.match(token!, /^olp_[A-Za-z0-9_-]{43}$/);
    assert.equal(await ensureLocalPageToken(dir), undefined, 'an existing token is not shown again');
    const file = join(dir, localPageTokenFile);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.ok(!(await readFile(file, 'utf8')).includes(token!), 'the token itself is not stored');

    const access = new LocalPageAccess(dir);
    assert.equal(await access.allows(token), true);
    assert.equal(await access.allows(undefined), false);
    assert.equal(await access.allows(`${token!.slice(0, -1)}A`), token!.endsWith('A'));
    assert.equal(await access.allows('olp_short'), false);

    const rotated = await rotateLocalPageToken(dir);
    assert.notEqual(rotated, token);
    assert.equal(await access.allows(token), false, 'the old token stops working');
    assert.equal(await access.allows(rotated), true);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('without a token file nobody gets in', async () => {
  const access = new LocalPageAccess(join(tmpdir(), 'outpost-lp-none'));
  assert.equal(await access.allows(`olp_${'A'.repeat(43)}`), false);
});

test('the token comes from a bearer header or the login cookie', () => {
  assert.equal(presentedToken({ authorization: 'Bearer olp_x' }), 'olp_x');
  assert.equal(presentedToken({ cookie: 'a=b; outpost_local_page=olp_y; c=d' }), 'olp_y');
  assert.equal(presentedToken({ authorization: 'Basic abc' }), undefined);
  assert.equal(presentedToken({}), undefined);
});
