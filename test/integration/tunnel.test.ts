// Troubleshooting tunnels end to end: a real hub, real agents in processes of their own (`outpost
// agent`) against a real kube-apiserver, the operator's `outpost tunnel` and the real kubectl. The
// agent dials out when asked; the hub enforces the session's mode and expiry and audits every request.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { HubApi } from '../../src/cli/hub-api.ts';
import { pruneTunnelSessions } from '../../src/hub/tunnel/sessions.ts';
import { HttpClient } from '../../src/net/http-client.ts';
import { type AgentProcess, startAgentProcess } from '../support/agent-process.ts';
import { runOutpost } from '../support/cli.ts';
import { eventually } from '../support/eventually.ts';
import { startTestHub, type TestHub } from '../support/fleet.ts';
import { type KubeFixture, startKube } from '../support/kube.ts';

const run = promisify(execFile);
const kubectlBin = process.env.OUTPOST_KUBECTL;
const skip = kubectlBin ? false : 'kubectl not built: OUTPOST_KUBECTL=$(bash scripts/kubectl-fixture.sh)';

let kube: KubeFixture;
let fleet: TestHub;
let dir: string;
const agents: AgentProcess[] = [];

async function kubectl(kubeconfig: string, args: string[]) {
  try {
    const { stdout, stderr } = await run(kubectlBin!, ['--kubeconfig', kubeconfig, ...args], {
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** A kubeconfig for the site from `outpost tunnel`, as `token` (the admin's by default). */
async function tunnelKubeconfig(site: string, args: string[] = [], token?: string) {
  const file = join(dir, `kubeconfig-${site}-${Math.random().toString(36).slice(2)}`);
  const r = await runOutpost(
    fleet,
    ['tunnel', site, '--kubeconfig', file, ...args],
    token ? { OUTPOST_TOKEN: token } : {},
  );
  return { file, ...r };
}

/** A raw request through the tunnel with a session's token, as a Kubernetes client would send it. */
function tunnelClient(server: string, token: string) {
  return new HttpClient(`${server}/`, { ca: fleet.hub.caPem }, () => ({ authorization: `Bearer ${token}` }));
}

async function tunnelAudit(session?: string) {
  const items = await fleet.api.audit(1000);
  return items.filter(
    (e) =>
      e.action === 'site.tunnel.request' &&
      (session === undefined || (e.details as { session?: string }).session === session),
  );
}

before(async () => {
  if (skip) return;
  kube = await startKube();
  fleet = await startTestHub();
  dir = await mkdtemp(join(tmpdir(), 'outpost-tunnel-'));
  agents.push(startAgentProcess(fleet, kube, dir, 'store-open', ['--label', 'region=west']));
  agents.push(
    startAgentProcess(fleet, kube, dir, 'store-closed', ['--label', 'region=east', '--tunnel', 'off']),
  );
  // two processes start node and register while the apiserver is busy: given time, and their logs on failure
  await eventually(
    'both sites to register',
    async () => {
      const sites = await fleet.api.sites();
      return sites.filter((s) => s.lifecycle === 'Active').length === 2;
    },
    { timeoutMs: 60_000 },
  ).catch((e: Error) => {
    throw new Error(`${e.message}\n${agents.map((a) => a.log()).join('\n')}`);
  });
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'till-0', namespace: 'default' },
    spec: { containers: [{ name: 'till', image: 'till:1' }] },
  };
  assert.equal((await kube.request('POST', '/api/v1/namespaces/default/pods', pod)).status, 201);
  assert.equal(
    (
      await kube.request('POST', '/api/v1/namespaces/default/secrets', {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'till-key' },
        stringData: { key: 'hunter2' },
      })
    ).status,
    201,
  );
});

after(async () => {
  for (const a of agents) await a.stop();
  await fleet?.stop();
  await kube?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('tunnels', { skip }, () => {
  test('kubectl get pods through a read-only tunnel: the site dials out, every request audited', async () => {
    const { file, code, stderr } = await tunnelKubeconfig('store-open');
    assert.equal(code, 0, stderr);
    assert.match(stderr, /read-only tunnel to store-open until/);
    const before = (await tunnelAudit()).length;
    const got = await kubectl(file, ['get', 'pods', '-n', 'default', '-o', 'name']);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.stdout.trim(), 'pod/till-0');
    const all = await tunnelAudit();
    // newest first: the rows kubectl's requests added
    const rows = all.slice(0, all.length - before);
    assert.ok(rows.length >= 1, 'kubectl requests audited');
    const list = rows.find((r) => (r.details as { verb: string }).verb === 'list');
    assert.ok(list, `a list among ${JSON.stringify(rows.map((r) => r.details))}`);
    assert.equal(list.actor, 'token:admin');
    assert.equal(list.target, 'site/store-open');
    assert.deepEqual(
      { ...(list.details as Record<string, unknown>), session: undefined },
      {
        session: undefined,
        mode: 'read',
        verb: 'list',
        resource: 'pods',
        method: 'GET',
        path: '/api/v1/namespaces/default/pods?limit=500',
        status: 200,
      },
    );
  });

  test('a watch streams through the tunnel: an event made at the site arrives while it is open', async () => {
    const session = await fleet.api.openTunnel('store-open', {});
    const http = tunnelClient(session.server, session.token);
    const ac = new AbortController();
    try {
      const watch = await http.stream('api/v1/namespaces/default/configmaps', {
        query: { watch: 'true' },
        idleTimeoutMs: 30_000,
        signal: ac.signal,
      });
      assert.equal(watch.status, 200);
      const made = kube.request('POST', '/api/v1/namespaces/default/configmaps', {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'watched' },
      });
      let seen = '';
      for await (const chunk of watch.body) {
        seen += chunk.toString();
        if (seen.includes('"name":"watched"')) break;
      }
      assert.equal((await made).status, 201);
      assert.match(seen, /"type":"ADDED"/);
    } finally {
      ac.abort();
      http.close();
    }
    const [row] = await tunnelAudit(session.id);
    assert.ok(row, 'the watch audited');
    assert.equal((row.details as { verb: string }).verb, 'watch');
  });

  test('a read-only tunnel refuses writes and secrets; nothing changes at the site', async () => {
    const { file } = await tunnelKubeconfig('store-open');
    const created = await kubectl(file, ['create', 'configmap', 'from-readonly', '-n', 'default']);
    assert.notEqual(created.code, 0);
    assert.match(created.stderr, /read-only/);
    assert.equal(
      (await kube.request('GET', '/api/v1/namespaces/default/configmaps/from-readonly')).status,
      404,
    );
    const deleted = await kubectl(file, ['delete', 'pod', 'till-0', '-n', 'default', '--wait=false']);
    assert.notEqual(deleted.code, 0);
    assert.equal((await kube.request('GET', '/api/v1/namespaces/default/pods/till-0')).status, 200);
    const secret = await kubectl(file, ['get', 'secret', 'till-key', '-n', 'default', '-o', 'yaml']);
    assert.notEqual(secret.code, 0);
    assert.doesNotMatch(secret.stdout + secret.stderr, /aHVudGVyMg|hunter2/);
    const exec = await kubectl(file, ['exec', 'till-0', '-n', 'default', '--', 'true']);
    assert.notEqual(exec.code, 0);
  });

  test('an admin write tunnel changes the site; an operator cannot open one', async () => {
    const { file, code, stderr } = await tunnelKubeconfig('store-open', ['--write']);
    assert.equal(code, 0, stderr);
    const created = await kubectl(file, ['create', 'configmap', 'from-admin', '-n', 'default']);
    assert.equal(created.code, 0, created.stderr);
    assert.equal((await kube.request('GET', '/api/v1/namespaces/default/configmaps/from-admin')).status, 200);
    const rows = await tunnelAudit();
    const create = rows.find((r) => (r.details as { verb: string }).verb === 'create');
    assert.ok(create, 'the create audited');
    assert.equal((create.details as { status: number }).status, 201);
    assert.equal((create.details as { mode: string }).mode, 'write');

    const { token } = await fleet.api.createApiToken('tunnel-operator', 'operator');
    const refused = await tunnelKubeconfig('store-open', ['--write'], token);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /forbidden/);
    assert.match(refused.stderr, /admin/);
    const readOnly = await tunnelKubeconfig('store-open', [], token);
    assert.equal(readOnly.code, 0, readOnly.stderr);
  });

  test('a site configured with --tunnel off refuses: the operator gets tunnel_refused', async () => {
    const { file, code, stderr } = await tunnelKubeconfig('store-closed');
    assert.equal(code, 0, stderr);
    const got = await kubectl(file, ['get', 'pods', '-n', 'default']);
    assert.notEqual(got.code, 0);
    assert.match(
      got.stderr,
      /\(Forbidden\): tunnel_refused: site store-closed refuses tunnels: tunnels are turned off/,
    );
    const session = await fleet.api.openTunnel('store-closed', {});
    const http = tunnelClient(session.server, session.token);
    try {
      const r = await http.request('GET', 'api/v1/namespaces/default/pods');
      assert.equal(r.status, 403);
      assert.equal((r.body as { error: { code: string } }).error.code, 'tunnel_refused');
      assert.match((r.body as { error: { message: string } }).error.message, /turned off at this site/);
    } finally {
      http.close();
    }
    const rows = await tunnelAudit(session.id);
    assert.equal(rows.length, 1);
    assert.equal((rows[0]!.details as { status: number }).status, 403);
  });

  test('an expired session, a wrong or missing credential, another site: refused (401/403)', async () => {
    const session = await fleet.api.openTunnel('store-open', {});
    const good = tunnelClient(session.server, session.token);
    const bad = [
      new HttpClient(`${session.server}/`, { ca: fleet.hub.caPem }),
      tunnelClient(session.server, fleet.adminToken),
      tunnelClient(session.server, `${session.token.slice(0, -4)}AAAA`),
    ];
    const otherSite = tunnelClient(session.server.replace(/store-open$/, 'store-closed'), session.token);
    try {
      assert.equal((await good.request('GET', 'version')).status, 200);
      for (const client of bad) {
        const r = await client.request('GET', 'api/v1/namespaces/default/pods');
        assert.equal(r.status, 401);
        assert.equal((r.body as { error: { code: string } }).error.code, 'unauthorized');
      }
      const r = await otherSite.request('GET', 'api/v1/namespaces/default/pods');
      assert.equal(r.status, 403);
      // the session ends: its expiry passes (moved into the past, as the clock would)
      await fleet.hub.ctx.store.db
        .updateTable('tunnel_sessions')
        .set({ expires_at: new Date(Date.now() - 1000).toISOString() })
        .where('id', '=', session.id)
        .execute();
      const expired = await good.request('GET', 'api/v1/namespaces/default/pods');
      assert.equal(expired.status, 401);
      assert.match((expired.body as { error: { message: string } }).error.message, /expired/);
      // a day on, the session itself is gone; the audit log still has what it did
      await fleet.hub.ctx.store.db
        .updateTable('tunnel_sessions')
        .set({ expires_at: new Date(Date.now() - 25 * 3600_000).toISOString() })
        .where('id', '=', session.id)
        .execute();
      assert.ok((await pruneTunnelSessions(fleet.hub.ctx)) >= 1);
      const gone = await fleet.hub.ctx.store.db
        .selectFrom('tunnel_sessions')
        .select('id')
        .where('id', '=', session.id)
        .executeTakeFirst();
      assert.equal(gone, undefined);
      assert.equal((await tunnelAudit(session.id)).length, 1, 'the one request that went through');
    } finally {
      for (const c of [good, ...bad, otherSite]) c.close();
    }
  });

  test('a token scoped to region=east cannot open a tunnel to a west site (403, nothing leaked)', async () => {
    const { token } = await fleet.api.createApiToken('east-operator', 'operator', [
      { role: 'operator', sites: { matchLabels: { region: 'east' } } },
    ]);
    const east = new HubApi(fleet.hub.url, token, fleet.hub.caPem);
    try {
      const answers = [];
      for (const site of ['store-open', 'no-such-store']) {
        answers.push(
          await east.openTunnel(site, {}).then(
            () => undefined,
            (e: { code: string; message: string }) => e,
          ),
        );
      }
      for (const e of answers) assert.equal(e?.code, 'forbidden');
      assert.equal(
        answers[0]!.message.replace('store-open', 'X'),
        answers[1]!.message.replace('no-such-store', 'X'),
        'the same answer whether the site exists or not',
      );
      const own = await east.openTunnel('store-closed', {});
      assert.equal(own.site, 'store-closed');
    } finally {
      east.close();
    }
  });

  test("the agent's tunnel endpoints refuse a caller without the site's client certificate (401)", async () => {
    const site = (await fleet.api.sites()).find((s) => s.name === 'store-open')!;
    const anonymous = new HttpClient(fleet.hub.url, { ca: fleet.hub.caPem });
    try {
      const wanted = await anonymous.request('GET', `/agent/v1/sites/${site.id}/tunnel`);
      assert.equal(wanted.status, 401);
      const refusal = await anonymous.request('POST', `/agent/v1/sites/${site.id}/tunnel/refusal`, {
        body: { reason: 'not me' },
      });
      assert.equal(refusal.status, 401);
      const dial = await anonymous.upgrade(`/agent/v1/sites/${site.id}/tunnel`, 'outpost-tunnel');
      assert.ok('refused' in dial, 'no tunnel without the certificate');
      assert.equal(dial.refused.status, 401);
      assert.equal((dial.refused.body as { error: { code: string } }).error.code, 'unauthorized');
    } finally {
      anonymous.close();
    }
  });

  test('every request through a tunnel is one audit row: who, site, verb, path, status', async () => {
    const session = await fleet.api.openTunnel('store-open', {});
    const http = tunnelClient(session.server, session.token);
    try {
      assert.equal((await http.request('GET', 'api/v1/namespaces/default/pods/till-0')).status, 200);
      assert.equal((await http.request('GET', 'api/v1/namespaces/default/pods/nowhere')).status, 404);
      const write = await http.request('POST', 'api/v1/namespaces/default/configmaps', {
        body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } },
      });
      assert.equal(write.status, 403);
    } finally {
      http.close();
    }
    const rows = (await tunnelAudit(session.id)).reverse();
    assert.deepEqual(
      rows.map((r) => {
        const d = r.details as { verb: string; path: string; status: number };
        return [r.actor, r.target, d.verb, d.path, d.status];
      }),
      [
        ['token:admin', 'site/store-open', 'get', '/api/v1/namespaces/default/pods/till-0', 200],
        ['token:admin', 'site/store-open', 'get', '/api/v1/namespaces/default/pods/nowhere', 404],
        ['token:admin', 'site/store-open', 'create', '/api/v1/namespaces/default/configmaps', 403],
      ],
    );
    const opened = (await fleet.api.audit(1000)).find(
      (e) => e.action === 'site.tunnel.open' && (e.details as { session?: string }).session === session.id,
    );
    assert.equal(opened?.actor, 'token:admin');
  });
});
