// Operations at the hub on real SQLite with sites driven by hand over mTLS: a queued operation ends the
// site's long-poll at once and is claimed once; log chunks are kept up to the byte limit; a deadline
// expires what the site never picked up; only the site's own agent, and only tokens reaching it, get in.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { expireOperations } from '../../src/hub/operations/operations.ts';
import { workHeader } from '../../src/model/operations.ts';
import { type HubServer, type Site, startHubServer } from '../support/hub-server.ts';

let hub: HubServer;
let west: Site;
let east: Site;
let westOperator: string;
let eastOperator: string;

before(async () => {
  hub = await startHubServer({ connectivity: { sweepIntervalMs: 0 } });
  west = await hub.enroll('store-west', { region: 'west' });
  east = await hub.enroll('store-east', { region: 'east' });
  westOperator = await hub.tokenFor('operator', [
    { role: 'operator', sites: { matchLabels: { region: 'west' } } },
  ]);
  eastOperator = await hub.tokenFor('operator', [
    { role: 'operator', sites: { matchLabels: { region: 'east' } } },
  ]);
});

after(async () => {
  west?.http.close();
  east?.http.close();
  await hub?.close();
});

async function digestOf(site: Site): Promise<string> {
  return String((await site.call('GET', '/agent/v1/sites/:site/desired')).headers.etag);
}

async function queue(site: string, path: 'actions' | 'logs', body: unknown, token?: string) {
  return hub.operator('POST', `/api/v1/sites/${site}/${path}`, body, token);
}

describe('the long-poll and the claim', () => {
  test('a queued action ends a held poll at once, says so, and is claimed exactly once', async () => {
    const etag = await digestOf(west);
    const started = Date.now();
    const poll = west.call('GET', '/agent/v1/sites/:site/desired?wait=5', undefined, {
      'if-none-match': etag,
    });
    await new Promise((r) => setTimeout(r, 200));
    const queued = await queue('store-west', 'actions', { action: 'drift-check' }, westOperator);
    assert.equal(queued.statusCode, 202, queued.body);
    const answer = await poll;
    assert.equal(answer.status, 304);
    assert.equal(answer.headers[workHeader], '1');
    assert.ok(Date.now() - started < 3000, 'the poll did not wait out its 5 s');

    const claimed = await west.call('POST', '/agent/v1/sites/:site/operations/claim', {});
    assert.equal(claimed.status, 200);
    const items = (claimed.body as { items: Array<{ id: string; spec: unknown }> }).items;
    assert.deepEqual(
      items.map((i) => i.spec),
      [{ action: 'drift-check' }],
    );
    assert.equal(items[0]!.id, queued.json().id);
    const again = await west.call('POST', '/agent/v1/sites/:site/operations/claim', {});
    assert.deepEqual((again.body as { items: unknown[] }).items, []);
    const quiet = await west.call('GET', '/agent/v1/sites/:site/desired');
    assert.equal(quiet.headers[workHeader], undefined, 'nothing waits once claimed');

    const done = await west.call('POST', `/agent/v1/sites/:site/operations/${items[0]!.id}/result`, {
      ok: true,
      message: 'checked 0 bundles',
    });
    assert.equal(done.status, 204);
    const view = (
      await hub.operator('GET', `/api/v1/operations/${items[0]!.id}`, undefined, westOperator)
    ).json();
    assert.equal(view.state, 'done');
    assert.equal(view.message, 'checked 0 bundles');
    assert.match(view.requestedBy, /^token:/);

    const audit = (await hub.operator('GET', '/api/v1/audit?limit=1000')).json().items as Array<
      Record<string, unknown>
    >;
    const requested = audit.find(
      (e) => e.action === 'site.action.drift-check' && e.target === 'site/store-west',
    );
    assert.ok(requested, 'the request is audited');
    assert.equal(requested.actor, view.requestedBy);
    const outcome = audit.find((e) => e.action === 'site.action.done' && e.target === 'site/store-west');
    assert.equal(outcome?.actor, 'site:store-west', 'the outcome is audited as the site');
  });

  test('an agent that never claims is told once at once, then polls at its normal pace', async () => {
    const etag = await digestOf(west);
    const queued = await queue('store-west', 'actions', { action: 'drift-check' });
    const poll = () =>
      west.call('GET', '/agent/v1/sites/:site/desired?wait=2', undefined, { 'if-none-match': etag });
    let started = Date.now();
    const first = await poll();
    assert.ok(Date.now() - started < 1000, 'the first poll answered at once');
    assert.equal(first.headers[workHeader], '1');
    started = Date.now();
    const second = await poll();
    assert.ok(Date.now() - started >= 1500, `the second poll was held (${Date.now() - started} ms)`);
    assert.equal(second.headers[workHeader], '1', 'and still says work waits');
    const claimed = await west.call('POST', '/agent/v1/sites/:site/operations/claim', {});
    assert.deepEqual(
      (claimed.body as { items: Array<{ id: string }> }).items.map((i) => i.id),
      [queued.json().id],
    );
  });

  test('a restart needs its workload; actions take only their own fields', async () => {
    const r = await queue('store-west', 'actions', { action: 'restart' });
    assert.equal(r.statusCode, 400);
    assert.match(r.json().error.message, /needs a target/);
    const wrong = await queue('store-west', 'actions', { action: 'drift-check', bundle: 'till' });
    assert.equal(wrong.statusCode, 400);
    const unknown = await queue('store-west', 'actions', { action: 'reboot-store' });
    assert.equal(unknown.statusCode, 400);
  });
});

describe('log requests', () => {
  test('chunks are kept up to the byte limit, once each, and the agent is told to stop', async () => {
    const r = await queue('store-east', 'logs', { namespace: 'default', pod: 'till', limitBytes: 10 });
    assert.equal(r.statusCode, 202, r.body);
    const id = r.json().id;
    const [op] = (
      (await east.call('POST', '/agent/v1/sites/:site/operations/claim', {})).body as {
        items: Array<{ id: string; spec: Record<string, unknown> }>;
      }
    ).items;
    assert.equal(op!.spec.limitBytes, 10, 'the agent learns the limit');
    const chunk = (seq: number, data: string) =>
      east.call('POST', `/agent/v1/sites/:site/operations/${id}/logs`, { seq, data });
    assert.deepEqual((await chunk(1, 'abcdefgh')).body, { more: true });
    assert.deepEqual((await chunk(1, 'abcdefgh')).body, { more: true }, 'a chunk sent again counts once');
    assert.deepEqual((await chunk(2, 'ijklmn')).body, { more: false });
    assert.deepEqual((await chunk(3, 'op')).body, { more: false });
    await east.call('POST', `/agent/v1/sites/:site/operations/${id}/result`, { ok: true, message: 'cut' });
    const page = (await hub.operator('GET', `/api/v1/operations/${id}/logs`)).json();
    assert.equal(page.chunks.map((c: { data: string }) => c.data).join(''), 'abcdefghij');
    assert.equal(page.operation.bytes, 10);
    assert.equal(page.done, true);
  });

  test('one pod or a selector; at most a few at once per site', async () => {
    const neither = await queue('store-east', 'logs', { namespace: 'default' });
    assert.equal(neither.statusCode, 400);
    const both = await queue('store-east', 'logs', { namespace: 'default', pod: 'a', selector: 'app=b' });
    assert.equal(both.statusCode, 400);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const ok = await queue('store-east', 'logs', { namespace: 'default', selector: 'app=till' });
      assert.equal(ok.statusCode, 202);
      ids.push(ok.json().id);
    }
    const fifth = await queue('store-east', 'logs', { namespace: 'default', selector: 'app=till' });
    assert.equal(fifth.statusCode, 409);
    assert.match(fifth.json().error.message, /at most 4/);
    for (const id of ids) {
      const cancelled = await hub.operator('DELETE', `/api/v1/operations/${id}`);
      assert.equal(cancelled.json().state, 'cancelled');
    }
    assert.equal((await queue('store-east', 'logs', { namespace: 'default', pod: 'x' })).statusCode, 202);
    await east.call('POST', '/agent/v1/sites/:site/operations/claim', {});
  });
});

describe('deadlines', () => {
  test('an operation the site never picks up expires, and is not handed out after', async () => {
    const r = await queue('store-west', 'actions', { action: 'reapply', deadlineSeconds: 10 });
    const id = r.json().id;
    hub.clock.advance(11_000);
    assert.equal(await expireOperations(hub.ctx), 1);
    const view = (await hub.operator('GET', `/api/v1/operations/${id}`)).json();
    assert.equal(view.state, 'expired');
    assert.match(view.message, /did not pick it up/);
    const claimed = await west.call('POST', '/agent/v1/sites/:site/operations/claim', {});
    assert.deepEqual((claimed.body as { items: unknown[] }).items, []);
    const late = await west.call('POST', `/agent/v1/sites/:site/operations/${id}/logs`, {
      seq: 1,
      data: 'x',
    });
    assert.equal(late.status, 409, 'nothing is taken for an expired operation');
  });
});

describe('who may', () => {
  test('an agent reaches only its own site operations, and none without its certificate', async () => {
    const r = await queue('store-west', 'actions', { action: 'drift-check' });
    const id = r.json().id;
    const foreignId = await east.call('POST', `/agent/v1/sites/:site/operations/${id}/result`, {
      ok: true,
      message: 'not mine',
    });
    assert.equal(foreignId.status, 404);
    const agentRoutes: Array<[string, unknown]> = [
      ['operations/claim', {}],
      [`operations/${id}/logs`, { seq: 1, data: 'x' }],
      [`operations/${id}/result`, { ok: true, message: 'x' }],
    ];
    for (const [path, body] of agentRoutes) {
      const anonymous = await hub.anonymous.request('POST', `/agent/v1/sites/${west.siteId}/${path}`, {
        body,
      });
      assert.equal(anonymous.status, 401, `${path} without a client certificate`);
      const foreign = await east.call('POST', `/agent/v1/sites/${west.siteId}/${path}`, body);
      assert.equal(foreign.status, 403, `${path} with another site's certificate`);
    }
    assert.equal((await hub.operator('GET', `/api/v1/operations/${id}`)).json().state, 'queued');
    await west.call('POST', '/agent/v1/sites/:site/operations/claim', {});
  });

  test('a token for another region is refused and learns nothing, not even whether an id exists', async () => {
    const before = (await hub.operator('GET', '/api/v1/sites/store-west/operations')).json().items.length;
    const act = await queue('store-west', 'actions', { action: 'drift-check' }, eastOperator);
    assert.equal(act.statusCode, 403);
    const logs = await queue('store-west', 'logs', { namespace: 'default', pod: 'till' }, eastOperator);
    assert.equal(logs.statusCode, 403);
    const list = await hub.operator('GET', '/api/v1/sites/store-west/operations', undefined, eastOperator);
    assert.equal(list.statusCode, 403);
    assert.equal(
      (await hub.operator('GET', '/api/v1/sites/store-west/operations')).json().items.length,
      before,
      'nothing was queued',
    );

    const westOp = (await queue('store-west', 'actions', { action: 'drift-check' })).json().id;
    const missing = '01890000-0000-7000-8000-000000000000';
    for (const path of ['', '/logs']) {
      const foreign = await hub.operator(
        'GET',
        `/api/v1/operations/${westOp}${path}`,
        undefined,
        eastOperator,
      );
      const none = await hub.operator('GET', `/api/v1/operations/${missing}${path}`, undefined, eastOperator);
      assert.equal(foreign.statusCode, 403);
      assert.equal(none.statusCode, 403);
      assert.equal(
        foreign.json().error.message.replace(westOp, 'ID'),
        none.json().error.message.replace(missing, 'ID'),
      );
      assert.ok(!foreign.body.includes('store-west'), 'the site is not named');
    }
    const cancel = await hub.operator('DELETE', `/api/v1/operations/${westOp}`, undefined, eastOperator);
    assert.equal(cancel.statusCode, 403);
    assert.equal(
      (await hub.operator('GET', `/api/v1/operations/${westOp}`, undefined, westOperator)).json().state,
      'queued',
    );
    await west.call('POST', '/agent/v1/sites/:site/operations/claim', {});
  });
});
