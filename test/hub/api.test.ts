// The hub's HTTP contract over real HTTPS and a real SQLite database: stable error codes, long-polls,
// blob access, idempotent reports, the OpenAPI document.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sha256Digest } from '../../src/render/digest.ts';
import { bundleFile } from '../support/fleet.ts';
import { type HubServer, type Site, startHubServer } from '../support/hub-server.ts';

let hub: HubServer;
/** runs once inside the next agent request, after authentication and before its handler */
let betweenAuthAndHandler: (() => Promise<void>) | undefined;

before(async () => {
  hub = await startHubServer({}, undefined, {
    beforeListen: (app) =>
      app.addHook('preHandler', async (request) => {
        const act = request.site ? betweenAuthAndHandler : undefined;
        betweenAuthAndHandler = undefined;
        await act?.();
      }),
  });
});

after(async () => {
  await hub.close();
});

const apply = (files: object) => hub.operator('POST', '/api/v1/bundles/apply', files);

const configMap = (name: string, data: Record<string, string> = { a: '1' }) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'default' },
  data,
});

async function desiredOf(site: Site) {
  const r = await site.call('GET', '/agent/v1/sites/:site/desired');
  assert.equal(r.status, 200);
  return r.body as {
    digest: string;
    deployments: Array<{ bundle: string; revision: number; digest: string }>;
  };
}

describe('bad input', () => {
  test('invalid YAML is refused with 400, a stable code, the file and the line', async () => {
    const content =
      'apiVersion: outpost.dev/v1\nkind: Bundle\nmetadata: {name: broken}\nspec:\n  placement:\n    selector: {}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n';
    const r = await apply({ files: [{ path: 'fleet/broken.yaml', content }] });
    assert.equal(r.statusCode, 400);
    const { error } = r.json();
    assert.equal(error.code, 'manifest_invalid');
    assert.equal(error.file, 'fleet/broken.yaml');
    assert.equal(error.line, 12);
    const bundles = await hub.operator('GET', '/api/v1/bundles');
    assert.equal(
      bundles.json().items.some((b: { name: string }) => b.name === 'broken'),
      false,
      'nothing was stored',
    );
  });

  test('a manifest without a name points at its document', async () => {
    const content =
      'apiVersion: outpost.dev/v1\nkind: Bundle\nmetadata: {name: nameless}\nspec: {placement: {selector: {}}}\n---\n# a comment\napiVersion: v1\nkind: ConfigMap\nmetadata: {}\n';
    const r = await apply({ files: [{ path: 'nameless.yaml', content }] });
    assert.equal(r.statusCode, 400);
    assert.deepEqual(r.json().error, {
      code: 'manifest_invalid',
      message: 'metadata.name is missing',
      file: 'nameless.yaml',
      line: 7,
    });
  });

  test('an invalid selector is refused with selector_invalid', async () => {
    const r = await apply(
      bundleFile('badsel', { matchExpressions: [{ key: 'region', operator: 'In', values: [] }] }, []),
    );
    assert.equal(r.statusCode, 400);
    assert.equal(r.json().error.code, 'selector_invalid');
    assert.match(r.json().error.message, /matchExpressions\[0\]/);
  });

  test('a body that does not match the schema is request_invalid', async () => {
    const r = await apply({ notFiles: true });
    assert.equal(r.statusCode, 400);
    assert.equal(r.json().error.code, 'request_invalid');
  });

  test('an unknown site or bundle is 404 not_found, and so is an unknown route', async () => {
    for (const url of ['/api/v1/sites/nowhere', '/api/v1/bundles/nothing', '/api/v1/nothing']) {
      const r = await hub.operator('GET', url);
      assert.equal(r.statusCode, 404, url);
      assert.equal(r.json().error.code, 'not_found');
    }
  });

  // Fastify refuses these before routing, and answered them in its own shape with FST_ codes (found by fuzzing)
  test('a malformed URL or an over-long path parameter is request_invalid in the error shape', async () => {
    const urls = [
      ['GET', '/api/v1/sites/%zz'],
      ['GET', `/api/v1/sites/${'a'.repeat(300)}`],
      ['POST', `/hooks/git/${'b'.repeat(300)}`],
    ];
    for (const [method, url] of urls) {
      const r = await hub.operator(method!, url!, {});
      assert.ok(r.statusCode >= 400 && r.statusCode < 500, `${url}: ${r.statusCode}`);
      assert.equal(r.json().error.code, 'request_invalid', r.body);
      assert.equal(typeof r.json().error.message, 'string');
    }
  });

  test('invalid site labels are refused', async () => {
    await hub.enroll('store-labels');
    const r = await hub.operator('PATCH', '/api/v1/sites/store-labels', { labels: { 'bad key!': 'x' } });
    assert.equal(r.statusCode, 400);
    assert.equal(r.json().error.code, 'request_invalid');
  });
});

describe('desired state and reports', () => {
  test('a placed bundle appears in the desired state; its blob matches its digest', async () => {
    const site = await hub.enroll('store-place', { tier: 'gold' });
    const r = await apply(bundleFile('gold-only', { matchLabels: { tier: 'gold' } }, [configMap('gold')]));
    assert.equal(r.statusCode, 200);
    assert.deepEqual(r.json(), { bundle: 'gold-only', revision: 1, changed: true, targeted: 1 });
    const res = await site.call('GET', '/agent/v1/sites/:site/desired');
    const desired = res.body as {
      digest: string;
      deployments: Array<{ bundle: string; revision: number; digest: string }>;
    };
    const entry = desired.deployments.find((d) => d.bundle === 'gold-only')!;
    assert.equal(entry.revision, 1);
    assert.equal(res.headers.etag, `"${desired.digest}"`);
    const blob = await site.http.request('GET', `/agent/v1/sites/${site.siteId}/blobs/${entry.digest}`, {
      raw: true,
    });
    assert.equal(blob.status, 200);
    assert.equal(sha256Digest(blob.body as string), entry.digest);
    assert.equal(JSON.parse(blob.body as string).objects[0].metadata.name, 'gold');
  });

  test('spec.apply travels in the blob, and changing only it makes a new revision and a new digest', async () => {
    const site = await hub.enroll('store-options', { tier: 'options' });
    const selector = { matchLabels: { tier: 'options' } };
    const entryOf = async () => (await desiredOf(site)).deployments.find((d) => d.bundle === 'tuned')!;
    await apply(bundleFile('tuned', selector, [configMap('tuned')]));
    const first = await entryOf();
    const r = await apply(
      bundleFile('tuned', selector, [configMap('tuned')], { apply: { readiness: 'Optimistic' } }),
    );
    assert.deepEqual(r.json(), { bundle: 'tuned', revision: 2, changed: true, targeted: 1 });
    const second = await entryOf();
    assert.notEqual(second.digest, first.digest);
    const blob = await site.call('GET', `/agent/v1/sites/:site/blobs/${second.digest}`);
    const options = (blob.body as { options: Record<string, unknown> }).options;
    assert.equal(options.readiness, 'Optimistic');
    assert.equal(options.correctDrift, true, 'defaults filled in');
  });

  test('a site cannot read a blob that is not placed on it', async () => {
    const gold = await hub.enroll('store-gold', { tier: 'secret' });
    const other = await hub.enroll('store-other', { tier: 'bronze' });
    await apply(bundleFile('secret-bundle', { matchLabels: { tier: 'secret' } }, [configMap('s')]));
    const digest = (await desiredOf(gold)).deployments.find((d) => d.bundle === 'secret-bundle')!.digest;
    const r = await other.call('GET', `/agent/v1/sites/:site/blobs/${digest}`);
    assert.equal(r.status, 404);
    assert.equal((r.body as { error: { code: string } }).error.code, 'not_found');
  });

  test('a long-poll with the current ETag answers 304 when nothing changes', async () => {
    const site = await hub.enroll('store-poll');
    const first = await desiredOf(site);
    const started = Date.now();
    const second = await site.call('GET', '/agent/v1/sites/:site/desired?wait=1', undefined, {
      'if-none-match': `"${first.digest}"`,
    });
    assert.equal(second.status, 304);
    assert.ok(Date.now() - started >= 900, 'the hub held the poll');
  });

  test('a long-poll wakes as soon as the site desired state changes', async () => {
    const site = await hub.enroll('store-wake', { wake: 'yes' });
    const first = await desiredOf(site);
    const started = Date.now();
    const poll = site.call('GET', '/agent/v1/sites/:site/desired?wait=30', undefined, {
      'if-none-match': `"${first.digest}"`,
    });
    await new Promise((r) => setTimeout(r, 100));
    await apply(bundleFile('wake', { matchLabels: { wake: 'yes' } }, [configMap('w')]));
    const res = await poll;
    assert.equal(res.status, 200);
    assert.ok(Date.now() - started < 1900, `woke in ${Date.now() - started} ms, before the 2 s cap`);
    assert.ok(
      (res.body as { deployments: Array<{ bundle: string }> }).deployments.some((d) => d.bundle === 'wake'),
    );
  });

  test('an agent that hangs up a held long-poll leaves no waiter behind', async () => {
    const site = await hub.enroll('store-hangup');
    const first = await desiredOf(site);
    const hangUp = new AbortController();
    const started = Date.now();
    const poll = site.http.request('GET', `/agent/v1/sites/${site.siteId}/desired`, {
      query: { wait: 30 },
      headers: { 'if-none-match': `"${first.digest}"` },
      signal: hangUp.signal,
    });
    const heldBy = async (n: number) => {
      while (hub.ctx.desiredWatch.waiting !== n && Date.now() - started < 5000)
        await new Promise((r) => setTimeout(r, 10));
      return hub.ctx.desiredWatch.waiting;
    };
    assert.equal(await heldBy(1), 1, 'the poll is held');
    hangUp.abort();
    await assert.rejects(poll);
    assert.equal(await heldBy(0), 0);
    // this hub holds a poll 2 s at most: a wait that ended at its deadline would not count
    const ended = Date.now() - started;
    assert.ok(ended < 1500, `the hang-up ended the wait after ${ended} ms, not at once`);
  });

  test('a change committed between a poll’s authentication and its wait answers the poll at once', async () => {
    const site = await hub.enroll('store-race', { race: 'yes' });
    const first = await desiredOf(site);
    // authentication has read the site (and its desired digest) when the change commits and is announced
    betweenAuthAndHandler = () =>
      apply(bundleFile('race', { matchLabels: { race: 'yes' } }, [configMap('r')])).then(() => {});
    const started = Date.now();
    const res = await site.call('GET', '/agent/v1/sites/:site/desired?wait=30', undefined, {
      'if-none-match': `"${first.digest}"`,
    });
    assert.equal(res.status, 200, 'the poll is not left waiting on what it read before the change');
    assert.ok(
      (res.body as { deployments: Array<{ bundle: string }> }).deployments.some((d) => d.bundle === 'race'),
    );
    assert.ok(Date.now() - started < 1500, `answered in ${Date.now() - started} ms, well before the 2 s cap`);
  });

  test('reports are sequenced: a replay or an older report changes nothing', async () => {
    const site = await hub.enroll('store-seq', { seq: 'yes' });
    await apply(bundleFile('seq', { matchLabels: { seq: 'yes' } }, [configMap('q')]));
    const digest = (await desiredOf(site)).deployments.find((d) => d.bundle === 'seq')!.digest;
    const report = (seq: number, state: string) =>
      site.call('POST', '/agent/v1/sites/:site/report', {
        seq,
        deployments: [
          {
            bundle: 'seq',
            digest,
            state,
            counts: { total: 1, applied: 1, ready: state === 'Ready' ? 1 : 0 },
          },
        ],
      });
    assert.deepEqual((await report(5, 'Ready')).body, { accepted: true, lastSeq: 5 });
    assert.deepEqual((await report(5, 'Failed')).body, { accepted: false, lastSeq: 5 });
    assert.deepEqual((await report(3, 'Failed')).body, { accepted: false, lastSeq: 5 });
    const d = (await hub.operator('GET', '/api/v1/sites/store-seq'))
      .json()
      .deployments.find((x: { bundle: string }) => x.bundle === 'seq');
    assert.equal(d.state, 'Ready');
    assert.equal(d.appliedDigest, digest);
  });

  // a sequence number past 2^53 was stored, and every later read of the site's row threw a RangeError:
  // each call that site made afterwards (reports, desired state, telemetry) answered 500
  test('numbers JavaScript cannot hold exactly are refused, and the site keeps working', async () => {
    const site = await hub.enroll('store-huge', {});
    const huge = await site.call('POST', '/agent/v1/sites/:site/report', { seq: 2 ** 53, deployments: [] });
    assert.equal(huge.status, 400, JSON.stringify(huge.body));
    assert.equal((huge.body as { error: { code: string } }).error.code, 'request_invalid');
    const dropped = await site.call('POST', '/agent/v1/sites/:site/report', {
      seq: 1,
      deployments: [],
      droppedReports: 2 ** 60,
    });
    assert.equal(dropped.status, 400);
    const telemetry = await site.call('POST', '/agent/v1/sites/:site/telemetry', {
      batchId: 'far-future',
      samples: [{ class: 'metric', name: 'cpu', t: 1e20, v: 1 }],
      events: [],
      dropped: { sli: 0, event: 0, metric: 0, debug: 0 },
    });
    assert.equal(telemetry.status, 400, JSON.stringify(telemetry.body));
    assert.deepEqual(
      (await site.call('POST', '/agent/v1/sites/:site/report', { seq: 2, deployments: [] })).body,
      {
        accepted: true,
        lastSeq: 2,
      },
    );
    assert.equal((await site.call('GET', '/agent/v1/sites/:site/desired')).status, 200);
  });

  test('a deleted bundle leaves the desired state, and its row goes once the agent reports it removed', async () => {
    const site = await hub.enroll('store-del', { del: 'yes' });
    await apply(bundleFile('doomed', { matchLabels: { del: 'yes' } }, [configMap('d')]));
    assert.equal((await hub.operator('DELETE', '/api/v1/bundles/doomed')).statusCode, 204);
    assert.equal(
      (await desiredOf(site)).deployments.some((d) => d.bundle === 'doomed'),
      false,
    );
    let detail = (await hub.operator('GET', '/api/v1/sites/store-del')).json();
    assert.equal(
      detail.deployments.find((d: { bundle: string }) => d.bundle === 'doomed').desiredDigest,
      null,
    );
    await site.call('POST', '/agent/v1/sites/:site/report', { seq: 1, deployments: [], removed: ['doomed'] });
    detail = (await hub.operator('GET', '/api/v1/sites/store-del')).json();
    assert.equal(
      detail.deployments.some((d: { bundle: string }) => d.bundle === 'doomed'),
      false,
    );
  });

  test('status counts sites and deployments by state', async () => {
    const s = (await hub.operator('GET', '/api/v1/status')).json();
    const sites = (await hub.operator('GET', '/api/v1/sites')).json().items;
    assert.equal(s.sites.total, sites.length);
    assert.equal(s.sites.byConnectivity.Online, sites.length);
    const sum = Object.values(s.deployments.byState as Record<string, number>).reduce((a, b) => a + b, 0);
    assert.equal(sum, s.deployments.total);
  });
});

test('the OpenAPI document describes both APIs', async () => {
  const r = await hub.operator('GET', '/openapi.json');
  assert.equal(r.statusCode, 200);
  const doc = r.json();
  assert.match(doc.openapi, /^3\./);
  for (const path of [
    '/api/v1/sites',
    '/api/v1/bundles/apply',
    '/api/v1/status',
    '/agent/v1/register',
    '/agent/v1/sites/{siteId}/desired',
    '/api/v1/query',
    '/api/v1/attention',
    '/api/v1/events',
    '/api/v1/events/stream',
  ]) {
    assert.ok(doc.paths[path], `${path} is documented`);
  }
});
