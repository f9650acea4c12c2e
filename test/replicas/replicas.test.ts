// Several hub replicas on one PostgreSQL database act as one hub: a change made on one wakes long-polls
// and event streams held by another, exactly one leads the run-once work, and when the leader's process
// is killed outright another takes over and a running rollout carries on.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { relayFeedSince } from '../../src/hub/relays/change-feed.ts';
import { createRelay } from '../../src/hub/relays/relays.ts';
import { emitEvents } from '../../src/hub/status/events.ts';
import { openStore } from '../../src/hub/store/index.ts';
import { migrationNames } from '../../src/hub/store/migrations.ts';
import { HttpClient } from '../../src/net/http-client.ts';
import { eventually } from '../support/eventually.ts';
import { bundleFile } from '../support/fleet.ts';
import { type HubServer, type Site, startHubServer } from '../support/hub-server.ts';
import { createTestDatabase, type TestDatabase, withoutPostgres } from '../support/postgres.ts';

const adminToken = 'oat_00000000-0000-7000-8000-000000000003.replica-secret-for-tests';

function configMap(version: string) {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'app', namespace: 'default' },
    data: { version },
  };
}

async function apply(hub: HubServer, version: string, rollout?: Record<string, unknown>) {
  const r = await hub.operator(
    'POST',
    '/api/v1/bundles/apply',
    bundleFile('app', { matchLabels: { app: 'yes' } }, [configMap(version)], rollout ? { rollout } : {}),
  );
  assert.equal(r.statusCode, 200, r.body);
  return r.json() as { revision: number; rollout?: string };
}

/** A replica in-process: real HTTPS, same database, same CA as `peer` when given. */
function replica(database: string, peer?: HubServer): Promise<HubServer> {
  return startHubServer(
    {
      database,
      maxWaitSeconds: 10,
      connectivity: { sweepIntervalMs: 0 },
      rollouts: { tickIntervalMs: 200 },
      postgres: { leaderCheckMs: 200 },
    },
    undefined,
    { adminToken, ...(peer ? { tls: peer.ctx.tls } : {}) },
  );
}

interface ReplicaProcess {
  url: string;
  child: ChildProcess;
  kill(): Promise<void>;
}

/** A replica in a child process with the CA of `peer`, to be killed with SIGKILL. */
async function replicaProcess(database: string, peer: HubServer, dir: string): Promise<ReplicaProcess> {
  const caCertFile = join(dir, 'ca.crt');
  const caKeyFile = join(dir, 'ca.key');
  await writeFile(caCertFile, peer.ctx.tls.ca.certPem);
  await writeFile(caKeyFile, peer.ctx.tls.ca.keyPem, { mode: 0o600 });
  const dataDir = await mkdtemp(join(dir, 'replica-'));
  const child = spawn(
    process.execPath,
    [
      join(import.meta.dirname, '../support/replica-process.ts'),
      JSON.stringify({ database, dataDir, caCertFile, caKeyFile }),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const [line] = (await Promise.race([
    once(child.stdout!, 'data'),
    once(child, 'exit').then(() => {
      throw new Error('the replica process exited before it listened');
    }),
  ])) as [Buffer];
  const { url } = JSON.parse(line.toString('utf8')) as { url: string };
  return {
    url,
    child,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
  };
}

async function leaderGauge(url: string, ca: string): Promise<number> {
  const client = new HttpClient(url, { ca }, () => ({ authorization: `Bearer ${adminToken}` }));
  try {
    const r = await client.request('GET', '/metrics', { raw: true });
    const m = /^outpost_hub_leader (\d+)$/m.exec(String(r.body));
    assert.ok(m, 'the leader gauge is exposed');
    return Number(m[1]);
  } finally {
    client.close();
  }
}

async function etagOf(site: Site): Promise<string> {
  const r = await site.call('GET', '/agent/v1/sites/:site/desired');
  assert.equal(r.status, 200);
  return r.headers.etag as string;
}

describe('hub replicas on one PostgreSQL database', { skip: withoutPostgres }, () => {
  let database: TestDatabase;
  let a: HubServer;
  let b: HubServer;

  before(async () => {
    database = await createTestDatabase();
    a = await replica(database.url);
    b = await replica(database.url, a);
  });

  after(async () => {
    await b?.close();
    await a?.close();
    await database?.drop();
  });

  test('an agent long-polling replica B sees a change made on replica A within 1 s', async () => {
    const onA = await a.enroll('poller', { app: 'yes' });
    const onB = b.siteClient(onA.siteId, onA.name, onA.certPem!, onA.keyPem);
    const etag = await etagOf(onB);
    const started = Date.now();
    const poll = onB.call('GET', '/agent/v1/sites/:site/desired?wait=10', undefined, {
      'if-none-match': etag,
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(b.ctx.desiredWatch.waiting, 1, 'the poll is held on B');
    const changedAt = Date.now();
    await apply(a, 'v1');
    const r = await poll;
    const woke = Date.now();
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.notEqual(r.headers.etag, etag);
    assert.equal((r.body as { deployments: unknown[] }).deployments.length, 1);
    assert.ok(woke - changedAt < 1000, `B answered ${woke - changedAt} ms after the change on A`);
    assert.ok(woke - started < 5000);
  });

  test('a replica answers a poll woken by another replica’s change from the store, not from a state it announced before', async () => {
    const onA = await a.enroll('announcer', { answers: 'yes' });
    const onB = b.siteClient(onA.siteId, onA.name, onA.certPem!, onA.keyPem);
    const desired = async (site: Site, etag?: string, wait = 0) => {
      const r = await site.http.request('GET', `/agent/v1/sites/${site.siteId}/desired`, {
        query: wait > 0 ? { wait } : {},
        headers: etag ? { 'if-none-match': etag } : {},
        raw: true,
      });
      return { status: r.status, text: String(r.body), etag: r.headers.etag as string };
    };
    const placeOn = async (hub: HubServer, version: string) => {
      const r = await hub.operator(
        'POST',
        '/api/v1/bundles/apply',
        bundleFile('answers', { matchLabels: { answers: 'yes' } }, [configMap(version)]),
      );
      assert.equal(r.statusCode, 200, r.body);
    };
    const heldOnA = async () => {
      await eventually('the poll is held on A', async () => a.ctx.desiredWatch.waiting === 1, {
        intervalMs: 10,
      });
    };
    // A places the first revision: its held poll is answered with the state A announced
    const before = await desired(onA);
    let poll = desired(onA, before.etag, 10);
    await heldOnA();
    await placeOn(a, 'v1');
    const first = await poll;
    assert.equal(first.status, 200);
    assert.equal(first.text, (await desired(onA)).text);
    // B places the next: A hears the site only, and reads what B committed
    poll = desired(onA, first.etag, 10);
    await heldOnA();
    await placeOn(b, 'v2');
    const second = await poll;
    assert.equal(second.status, 200);
    assert.notEqual(second.etag, first.etag, 'not the state A announced before');
    assert.equal(second.text, (await desired(onB)).text, 'what B placed, byte for byte');
    // an agent still on the first state is answered at once with B's
    const behind = await desired(onA, first.etag, 10);
    assert.equal(behind.status, 200);
    assert.equal(behind.text, second.text);
    onB.http.close();
    onA.http.close();
  });

  test('an operation queued on replica A ends a long-poll held on B at once, saying work waits', async () => {
    const onA = await a.enroll('worker', { app: 'no' });
    const onB = b.siteClient(onA.siteId, onA.name, onA.certPem!, onA.keyPem);
    const etag = await etagOf(onB);
    const poll = onB.call('GET', '/agent/v1/sites/:site/desired?wait=10', undefined, {
      'if-none-match': etag,
    });
    await new Promise((r) => setTimeout(r, 300));
    const queuedAt = Date.now();
    const queued = await a.operator('POST', '/api/v1/sites/worker/actions', { action: 'drift-check' });
    assert.equal(queued.statusCode, 202, queued.body);
    const r = await poll;
    assert.equal(r.status, 304);
    assert.equal(r.headers['outpost-work'], '1');
    assert.ok(Date.now() - queuedAt < 1000, `B answered ${Date.now() - queuedAt} ms after the queue on A`);
    const claimed = await onB.call('POST', '/agent/v1/sites/:site/operations/claim', {});
    assert.deepEqual(
      (claimed.body as { items: Array<{ id: string }> }).items.map((i) => i.id),
      [queued.json().id],
    );
    onB.http.close();
    onA.http.close();
  });

  test('a site decommissioned on replica A is refused by replica B within 2 s, though B just served it', async () => {
    const onA = await a.enroll('retired', { app: 'no' });
    const onB = b.siteClient(onA.siteId, onA.name, onA.certPem!, onA.keyPem);
    await etagOf(onB);
    await etagOf(onB);
    const decommissioned = await a.operator('POST', '/api/v1/sites/retired/decommission');
    assert.equal(decommissioned.statusCode, 200, decommissioned.body);
    const at = Date.now();
    // B remembers the certificate for up to a minute unless A's notification reaches it
    await eventually(
      'B refuses the certificate',
      async () => (await onB.call('GET', '/agent/v1/sites/:site/desired')).status === 401,
      { intervalMs: 50 },
    );
    assert.ok(Date.now() - at < 2000, `B refused ${Date.now() - at} ms after the decommission on A`);
    onB.http.close();
    onA.http.close();
  });

  test('a relay’s feed held on replica B is answered with a delta after changes made on replica A', async () => {
    const site = await a.enroll('relayed', { app: 'yes', region: 'far' });
    const { view } = await createRelay(
      a.ctx,
      { name: 'test', source: 'test' },
      {
        name: 'far',
        selector: { matchLabels: { region: 'far' } },
      },
    );
    const relay = { id: view.id, name: view.name, selector: view.selector };
    const never = new AbortController().signal;
    const full = await relayFeedSince(b.ctx, relay, '', 0, never);
    assert.deepEqual(
      full?.sites.map((s) => s.id),
      [site.siteId],
    );
    const held = relayFeedSince(b.ctx, relay, full!.cursor!, 10_000, never);
    await new Promise((r) => setTimeout(r, 300));
    const changedAt = Date.now();
    await apply(a, 'far-1');
    const delta = await held;
    assert.ok(Date.now() - changedAt < 2000, `B answered ${Date.now() - changedAt} ms after the change on A`);
    assert.equal(delta?.delta, true);
    assert.deepEqual(
      delta?.sites.map((s) => [s.id, s.digest !== full!.sites[0]!.digest]),
      [[site.siteId, true]],
    );
    // a relabel on A reaches B by the sites channel alone (no desired state changes): a removal
    const relabelled = await a.operator('PATCH', '/api/v1/sites/relayed', { labels: { app: 'yes' } });
    assert.equal(relabelled.statusCode, 200, relabelled.body);
    const removal = await relayFeedSince(b.ctx, relay, delta!.cursor!, 10_000, never);
    assert.deepEqual(removal?.removed, [site.siteId]);
    site.http.close();
  });

  test('an event stream on B gets the events committed on A', async () => {
    const received = new Promise<string>((resolve, reject) => {
      const req = https.get(
        `${b.url}/api/v1/events/stream`,
        { ca: b.ctx.tls.ca.certPem, headers: { authorization: `Bearer ${b.adminToken}` } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            text += chunk;
            if (text.includes('from-replica-a')) {
              resolve(text);
              req.destroy();
            }
          });
        },
      );
      req.on('error', reject);
    });
    await new Promise((r) => setTimeout(r, 300));
    const sent = Date.now();
    await emitEvents(a.ctx, [{ type: 'approved', site: 'x', message: 'from-replica-a' }]);
    const text = await received;
    assert.match(text, /event: approved/);
    assert.ok(Date.now() - sent < 1000, `${Date.now() - sent} ms`);
  });

  test('the same bundle applied on both replicas at once is stored as two revisions, neither refused', async () => {
    const body = (version: string) =>
      bundleFile('both-at-once', { matchLabels: { app: 'both' } }, [configMap(version)]);
    const answers = await Promise.all([
      a.operator('POST', '/api/v1/bundles/apply', body('from-a')),
      b.operator('POST', '/api/v1/bundles/apply', body('from-b')),
    ]);
    for (const r of answers) assert.equal(r.statusCode, 200, r.body);
    const revisions = answers.map((r) => (r.json() as { revision: number }).revision).sort();
    assert.deepEqual(revisions, [1, 2]);
    const stored = await a.ctx.store.db
      .selectFrom('bundle_revisions')
      .select('revision')
      .where('bundle', '=', 'both-at-once')
      .execute();
    assert.equal(stored.length, 2);
  });

  test('exactly one replica leads, and /metrics says which', async () => {
    await eventually('one leader', () => a.ctx.coordination.leading !== b.ctx.coordination.leading);
    assert.equal(await leaderGauge(a.url, a.ctx.tls.ca.certPem), a.ctx.coordination.leading ? 1 : 0);
    assert.equal(await leaderGauge(b.url, b.ctx.tls.ca.certPem), b.ctx.coordination.leading ? 1 : 0);
  });
});

describe('a replica killed mid-rollout', { skip: withoutPostgres }, () => {
  let database: TestDatabase;
  let dir: string;
  const hubs: HubServer[] = [];
  const processes: ReplicaProcess[] = [];

  before(async () => {
    database = await createTestDatabase();
    dir = await mkdtemp(join(tmpdir(), 'outpost-replicas-'));
  });

  after(async () => {
    for (const p of processes) await p.kill();
    for (const h of hubs) await h.close();
    await database?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  test('the rollout keeps progressing while the leader is killed, and after it is restarted', async () => {
    // B runs in a child process and leads; A, in this process, follows. The seed replica only lends B
    // its CA and holds the lead until B is up, then leaves.
    const seed = await replica(database.url);
    const b = await replicaProcess(database.url, seed, dir);
    processes.push(b);
    await seed.close();
    await eventually('B leads', async () => (await leaderGauge(b.url, seed.ctx.tls.ca.certPem)) === 1);
    const onA = await replica(database.url, seed);
    hubs.push(onA);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(onA.ctx.coordination.leading, false, 'A follows while B leads');

    const agents: Array<{ site: Site; seq: number; reported?: string }> = [];
    for (let i = 0; i < 6; i++) agents.push({ site: await onA.enroll(`store-${i}`, { app: 'yes' }), seq: 0 });
    const act = async () => {
      for (const agent of agents) {
        const r = await agent.site.call('GET', '/agent/v1/sites/:site/desired');
        const d = (r.body as { deployments: Array<{ bundle: string; digest: string }> }).deployments.find(
          (x) => x.bundle === 'app',
        );
        if (!d || d.digest === agent.reported) continue;
        const sent = await agent.site.call('POST', '/agent/v1/sites/:site/report', {
          seq: ++agent.seq,
          deployments: [
            { bundle: 'app', digest: d.digest, state: 'Ready', counts: { total: 1, applied: 1, ready: 1 } },
          ],
        });
        assert.equal(sent.status, 200, JSON.stringify(sent.body));
        agent.reported = d.digest;
      }
    };
    await apply(onA, 'v1');
    await act();
    const { rollout } = await apply(onA, 'v2', {
      waves: [
        { name: 'canary', count: 1 },
        { name: 'early', count: 2 },
        { name: 'rest', percent: 100 },
      ],
      maxConcurrent: 1,
      bakeSeconds: 0,
    });
    assert.ok(rollout);
    const started = async () =>
      (
        await onA.ctx.store.db
          .selectFrom('rollout_sites')
          .select('site_id')
          .where('rollout_id', '=', rollout)
          .where('started_at', 'is not', null)
          .execute()
      ).length;
    const phase = async () =>
      (
        await onA.ctx.store.db
          .selectFrom('rollouts')
          .select('phase')
          .where('id', '=', rollout)
          .executeTakeFirstOrThrow()
      ).phase;
    await eventually('the leader B starts the canary', async () => {
      await act();
      return (await started()) >= 1;
    });
    assert.equal(onA.ctx.coordination.leading, false);

    await b.kill();
    const killedAt = Date.now();
    await eventually('A takes the lead', () => onA.ctx.coordination.leading, {
      timeoutMs: 5000,
      intervalMs: 50,
    });
    const failover = Date.now() - killedAt;
    assert.ok(failover < 3000, `A led ${failover} ms after B was killed`);
    const before = await started();
    await eventually('A moves the rollout on', async () => {
      await act();
      return (await started()) > before;
    });

    // B comes back as a follower and the rollout finishes
    const again = await replicaProcess(database.url, onA, dir);
    processes.push(again);
    const succeeded = async () => {
      await act();
      return (await phase()) === 'Succeeded';
    };
    await eventually('the rollout succeeds', succeeded, { timeoutMs: 30_000 });
    assert.equal(await leaderGauge(again.url, onA.ctx.tls.ca.certPem), 0, 'the restarted B follows');
    assert.equal(await started(), 6, 'every site started once');
  });
});

describe('replicas starting at once', { skip: withoutPostgres }, () => {
  test('migrate the same database once, whoever comes first', async () => {
    const database = await createTestDatabase();
    try {
      const stores = await Promise.all(Array.from({ length: 5 }, () => openStore(database.url)));
      try {
        const applied = await stores[0]!.db
          .selectFrom('kysely_migration' as never)
          .select('name' as never)
          .execute();
        assert.deepEqual(applied.map((r) => (r as { name: string }).name).sort(), migrationNames);
        const tables = await Promise.all(
          stores.map((s) =>
            s.db
              .selectFrom('sites')
              .select((eb) => eb.fn.countAll<number>().as('n'))
              .execute(),
          ),
        );
        for (const t of tables) assert.equal(t[0]?.n, 0);
      } finally {
        for (const s of stores) await s.close();
      }
    } finally {
      await database.drop();
    }
  });
});
