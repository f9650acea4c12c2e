// Kubernetes Secret values never reach an operator-facing read: the rendered view, plan diffs, render
// errors (apply, explain) and the hub's log show each key with a digest of its value, for every role,
// while the site the Secret is placed on still gets the real values on the agent API.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { bundleFile } from '../support/fleet.ts';
import { type HubServer, type Site, startHubServer } from '../support/hub-server.ts';

const password = 'hunter2-correct-horse';
const apiKey = 'ak-9f8e7d6c5b4a';
const perSite = 'per-site-pin-424242';
const b64 = (s: string) => Buffer.from(s).toString('base64');
/** every spelling of a value that must not appear: as written, base64 and JSON-escaped in text */
const spellings = [password, b64(password), apiKey, b64(apiKey), perSite, b64(perSite)];
const digestOf = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex').slice(0, 16)}`;

const secret = (extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: {
    name: 'db',
    namespace: 'pos',
    annotations: {
      'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify({
        data: { password: b64(password) },
      }),
    },
  },
  type: 'Opaque',
  data: { password: b64(password) },
  stringData: { 'api-key': apiKey, pin: '${site.properties.pin}' },
  ...extra,
});

function assertNoSecret(text: string, where: string): void {
  for (const s of spellings) assert.ok(!text.includes(s), `${where} shows a Secret value (${s})`);
}

let hub: HubServer;
let site: Site;
let log = '';
const tokens: Record<string, string> = {};

before(async () => {
  const stream = new PassThrough();
  stream.on('data', (chunk: Buffer) => {
    log += chunk.toString();
  });
  hub = await startHubServer({}, stream);
  tokens.viewer = await hub.tokenFor('viewer');
  tokens.admin = hub.adminToken;
  site = await hub.enroll('till-1', { vault: 'yes' });
  const patched = await hub.operator('PATCH', '/api/v1/sites/till-1', { properties: { pin: perSite } });
  assert.equal(patched.statusCode, 200, patched.body);
  const applied = await hub.operator(
    'POST',
    '/api/v1/bundles/apply',
    bundleFile('vault', { matchLabels: { vault: 'yes' } }, [secret()]),
  );
  assert.equal(applied.statusCode, 200, applied.body);
  assertNoSecret(applied.body, 'the apply answer');
});
after(() => hub.close());

describe('Secret values in operator-facing reads', () => {
  for (const role of ['viewer', 'admin']) {
    test(`the rendered view shows keys and digests, never values (${role})`, async () => {
      const r = await hub.operator(
        'GET',
        '/api/v1/bundles/vault/rendered?site=till-1',
        undefined,
        tokens[role],
      );
      assert.equal(r.statusCode, 200, r.body);
      assertNoSecret(r.body, 'the rendered view');
      const [shown] = r.json().objects;
      assert.deepEqual(Object.keys(shown.data), ['password']);
      assert.deepEqual(Object.keys(shown.stringData).sort(), ['api-key', 'pin']);
      assert.match(shown.data.password, new RegExp(digestOf(password)));
      assert.match(shown.stringData['api-key'], new RegExp(digestOf(apiKey)));
      assert.match(shown.stringData.pin, new RegExp(digestOf(perSite)));
      const annotation = shown.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration'];
      assert.match(annotation, /^redacted sha256:[0-9a-f]{16}$/);
      assert.equal(shown.type, 'Opaque', 'what is not a value stays readable');
    });

    test(`a plan's diff of a changed Secret shows that a value changed, not what to (${role})`, async () => {
      const next = secret({ data: { password: b64(`${password}-next`) } });
      const r = await hub.operator(
        'POST',
        '/api/v1/plan',
        bundleFile('vault', { matchLabels: { vault: 'yes' } }, [next]),
        tokens[role],
      );
      assert.equal(r.statusCode, 200, r.body);
      assert.ok(!r.body.includes(`${password}-next`) && !r.body.includes(b64(`${password}-next`)));
      assertNoSecret(r.body, 'the plan');
      const [change] = r.json().sites[0].changed;
      assert.equal(change.object, 'Secret pos/db');
      const op = change.diff.find((o: { path: string }) => o.path === '/data/password');
      assert.equal(op.op, 'replace');
      assert.match(op.value, new RegExp(digestOf(`${password}-next`)));
    });
  }

  test('a failed JSON-patch test on a Secret names the path, not the values (apply, rendered, explain)', async () => {
    const failing = bundleFile('vault-test', { matchLabels: { vault: 'yes' } }, [secret()], {
      overlays: [
        {
          target: { kind: 'Secret', name: 'db' },
          jsonPatch: [{ op: 'test', path: '/data/password', value: b64(apiKey) }],
        },
      ],
    });
    const applied = await hub.operator('POST', '/api/v1/bundles/apply', failing);
    assert.equal(applied.statusCode, 200, applied.body);
    assert.equal(applied.json().failed.length, 1);
    assert.match(applied.json().failed[0].message, /\/data\/password/);
    assertNoSecret(applied.body, 'the apply answer');
    for (const role of ['viewer', 'admin']) {
      const rendered = await hub.operator(
        'GET',
        '/api/v1/bundles/vault-test/rendered?site=till-1',
        undefined,
        tokens[role],
      );
      assert.equal(rendered.statusCode, 200, rendered.body);
      assert.match(rendered.json().renderError, /\/data\/password/);
      assertNoSecret(rendered.body, 'the render error');
      const explained = await hub.operator(
        'GET',
        '/api/v1/bundles/vault-test/explain?site=till-1',
        undefined,
        tokens[role],
      );
      assert.equal(explained.statusCode, 200, explained.body);
      assertNoSecret(explained.body, 'explain');
    }
  });

  test('the site still gets the real values on the agent API', async () => {
    const desired = await site.call('GET', '/agent/v1/sites/:site/desired');
    const digest = (
      desired.body as { deployments: Array<{ bundle: string; digest: string }> }
    ).deployments.find((d) => d.bundle === 'vault')!.digest;
    const blob = await site.call('GET', `/agent/v1/sites/:site/blobs/${digest}`);
    assert.equal(blob.status, 200);
    const [obj] = (
      blob.body as { objects: Array<{ data: Record<string, string>; stringData: Record<string, string> }> }
    ).objects;
    assert.equal(obj!.data.password, b64(password));
    assert.equal(obj!.stringData.pin, perSite);
  });

  test("the hub's log holds no Secret value", () => {
    assert.ok(log.includes('/api/v1/bundles/apply'), 'the log captured the requests');
    assertNoSecret(log, 'the hub log');
  });
});
