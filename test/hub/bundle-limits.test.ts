// The hub's bundle size limit holds before any YAML is read: apply, plan (open to viewers) and so git
// sync refuse files over --max-bundle-bytes by their size alone, so an oversized body cannot make the
// hub spend its time parsing it first.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type HubServer, startHubServer } from '../support/hub-server.ts';

let hub: HubServer;
const limit = 4096;
// over the limit, and not even YAML: whichever check runs first names the error
const oversized = {
  path: 'big/bundle.yaml',
  content: `apiVersion: outpost.dev/v1\nkind: Bundle\nmetadata: {name: big}\n${'bad: [\n'.repeat(1000)}`,
};

before(async () => {
  hub = await startHubServer({ limits: { maxBundleBytes: limit } });
});
after(() => hub.close());

describe('files over the byte limit are refused unread', () => {
  test('bundle apply', async () => {
    const r = await hub.operator('POST', '/api/v1/bundles/apply', { files: [oversized] });
    assert.equal(r.statusCode, 400, r.body);
    assert.equal(r.json().error.code, 'bundle_invalid');
    assert.match(r.json().error.message, /is 7\d{3} bytes; the hub's limit is 4096/);
  });

  test('plan, with a viewer token', async () => {
    const viewer = await hub.tokenFor('viewer');
    const r = await hub.operator('POST', '/api/v1/plan', { files: [oversized] }, viewer);
    assert.equal(r.statusCode, 200, r.body);
    const errors = r.json().errors as Array<{ code: string; message: string }>;
    assert.ok(errors.length > 0);
    for (const e of errors) assert.match(e.message, /the hub's limit is 4096/, JSON.stringify(errors));
  });
});
