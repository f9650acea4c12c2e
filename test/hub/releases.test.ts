// Agent releases at the hub over real HTTPS and SQLite: push only with the release key's signature and
// the admin role, versions immutable, downloads by digest over the site's mTLS, join tokens carrying the
// key, and the reserved agent bundle accepted only for a release the hub holds as signed.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  type AgentRelease,
  agentReleaseObject,
  defaultUpgradeDeadlineSeconds,
  releaseStatement,
} from '../../src/model/agent-release.ts';
import { decodeJoinToken } from '../../src/model/join-token.ts';
import { generateReleaseKey, signRelease } from '../../src/pki/release-key.ts';
import { bundleFile } from '../support/fleet.ts';
import { type HubServer, type Site, startHubServer } from '../support/hub-server.ts';

const key = generateReleaseKey();
let hub: HubServer;
let site: Site;

before(async () => {
  hub = await startHubServer({ releases: { publicKey: key.publicKey, maxBytes: 4 * 1024 * 1024 } });
  const { token } = await hub.joinToken();
  const r = await hub.register(token, { name: 'store-1' });
  site = hub.siteClient(r.body.siteId, r.body.name, r.body.certificate!, r.keyPem);
});

after(async () => {
  await hub.close();
});

/** A release as an operator would sign it: random bytes stand in for the tarball. */
function signed(version: string, bytes = randomBytes(2.5 * 1024 * 1024), image?: string) {
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  const statement = releaseStatement({ version, digest, size: bytes.length, image });
  return { version, digest, bytes, image, signature: signRelease(key.privateKeyPem, statement) };
}

function push(
  r: { version: string; digest: string; signature: string; bytes: Buffer; image?: string | undefined },
  token = hub.adminToken,
) {
  const query = new URLSearchParams({ digest: r.digest, signature: r.signature });
  if (r.image) query.set('image', r.image);
  return hub.app.inject({
    method: 'PUT',
    url: `/api/v1/agent-releases/${r.version}?${query}`,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
    payload: r.bytes,
  });
}

describe('pushing a release', () => {
  test('a signed release is stored once; pushing it again changes nothing', async () => {
    const release = signed('0.2.0', undefined, 'registry.example/outpost-agent:0.2.0');
    const first = await push(release);
    assert.equal(first.statusCode, 201, first.body);
    const { createdAt, ...stored } = first.json() as Record<string, unknown>;
    assert.match(String(createdAt), /^\d{4}-/);
    assert.deepEqual(stored, {
      version: '0.2.0',
      digest: release.digest,
      size: release.bytes.length,
      signature: release.signature,
      image: 'registry.example/outpost-agent:0.2.0',
      createdBy: 'token:admin',
    });
    assert.equal((await push(release)).statusCode, 200);
    const list = await hub.operator('GET', '/api/v1/agent-releases');
    assert.deepEqual(
      list.json().items.map((r: { version: string }) => r.version),
      ['0.2.0'],
    );
    const audit = await hub.operator('GET', '/api/v1/audit');
    assert.ok(audit.json().items.some((e: { action: string }) => e.action === 'agent.release.push'));
  });

  test('a signature by another key, or over other facts, is refused and nothing is stored', async () => {
    const release = signed('0.3.0');
    const forged = { ...release, signature: signRelease(generateReleaseKey().privateKeyPem, 'x') };
    const r = await push(forged);
    assert.equal(r.statusCode, 400);
    assert.equal(r.json().error.code, 'release_invalid');
    assert.match(r.json().error.message, /does not verify with this hub's release key/);
    // the signature holds for the facts signed, not for another image the hub was told
    const relabelled = await push({ ...release, image: 'registry.example/evil:1' });
    assert.equal(relabelled.statusCode, 400);
    assert.equal((await hub.operator('GET', '/api/v1/agent-releases/0.3.0')).statusCode, 404);
  });

  test('bytes that are not the ones signed are refused before the signature is even read', async () => {
    const release = signed('0.3.1');
    const r = await push({ ...release, bytes: randomBytes(1024) });
    assert.equal(r.statusCode, 400);
    assert.match(r.json().error.message, /the file changed on the way/);
  });

  test('a version is immutable: other content under it is a conflict', async () => {
    const r = await push(signed('0.2.0'));
    assert.equal(r.statusCode, 409);
    assert.match(r.json().error.message, /exists with other content/);
  });

  test('a release over the size limit is refused with 413', async () => {
    const r = await push(signed('0.4.0', randomBytes(5 * 1024 * 1024)));
    assert.equal(r.statusCode, 413);
  });

  test('pushing needs an admin token; reading needs a viewer', async () => {
    const release = signed('0.5.0');
    assert.equal((await push(release, '')).statusCode, 401);
    assert.equal((await push(release, 'oat_bogus.token')).statusCode, 401);
    assert.equal((await push(release, await hub.tokenFor('operator'))).statusCode, 403);
    const viewer = await hub.tokenFor('viewer');
    assert.equal((await hub.operator('GET', '/api/v1/agent-releases', undefined, viewer)).statusCode, 200);
    assert.equal((await hub.operator('GET', '/api/v1/agent-releases', undefined, '')).statusCode, 401);
  });

  test('a hub without a release key takes no releases', async () => {
    const keyless = await startHubServer();
    try {
      const release = signed('0.2.0');
      const query = new URLSearchParams({ digest: release.digest, signature: release.signature });
      const r = await keyless.app.inject({
        method: 'PUT',
        url: `/api/v1/agent-releases/0.2.0?${query}`,
        headers: {
          authorization: `Bearer ${keyless.adminToken}`,
          'content-type': 'application/octet-stream',
        },
        payload: release.bytes,
      });
      assert.equal(r.statusCode, 409);
      assert.match(r.json().error.message, /no release key/);
      const { joinToken } = await keyless.joinToken();
      assert.equal(decodeJoinToken(joinToken)!.releaseKey, undefined);
    } finally {
      await keyless.close();
    }
  });
});

describe('sites and the release key', () => {
  test('join tokens carry the release key, so sites pin it when they join', async () => {
    const { joinToken } = await hub.joinToken();
    assert.equal(decodeJoinToken(joinToken)!.releaseKey, key.publicKey);
  });

  test('a site downloads a release by digest over mTLS, byte for byte', async () => {
    const release = signed('0.6.0', randomBytes(3 * 1024 * 1024 + 17));
    assert.equal((await push(release)).statusCode, 201);
    const stream = await site.http.stream(`/agent/v1/sites/${site.siteId}/releases/${release.digest}`, {
      idleTimeoutMs: 10_000,
    });
    assert.equal(stream.status, 200);
    const chunks: Buffer[] = [];
    for await (const c of stream.body) chunks.push(c);
    assert.ok(Buffer.concat(chunks).equals(release.bytes));
    const missing = await site.call('GET', `/agent/v1/sites/:site/releases/sha256:${'0'.repeat(64)}`);
    assert.equal(missing.status, 404);
  });

  test('a download without the site certificate is refused', async () => {
    const r = await hub.anonymous.request(
      'GET',
      `/agent/v1/sites/${site.siteId}/releases/sha256:${'0'.repeat(64)}`,
    );
    assert.equal(r.status, 401);
  });
});

describe('the agent bundle', () => {
  const asBundle = (release: AgentRelease) => bundleFile('outpost-agent', {}, [agentReleaseObject(release)]);

  test('is accepted for a release the hub holds as signed, and refused for one it does not', async () => {
    const release = signed('0.7.0');
    const spec: AgentRelease = {
      version: release.version,
      digest: release.digest,
      size: release.bytes.length,
      signature: release.signature,
      deadlineSeconds: defaultUpgradeDeadlineSeconds,
    };
    const early = await hub.operator('POST', '/api/v1/bundles/apply', asBundle(spec));
    assert.equal(early.statusCode, 400);
    assert.equal(early.json().error.code, 'bundle_invalid');
    assert.match(early.json().error.message, /agent release 0.7.0 is not on this hub/);
    assert.equal((await push(release)).statusCode, 201);
    const tampered = await hub.operator('POST', '/api/v1/bundles/apply', asBundle({ ...spec, size: 1 }));
    assert.equal(tampered.statusCode, 400);
    assert.match(tampered.json().error.message, /does not match release 0.7.0 as stored/);
    const ok = await hub.operator('POST', '/api/v1/bundles/apply', asBundle(spec));
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.json().targeted, 1, 'placed like any bundle');
  });
});
