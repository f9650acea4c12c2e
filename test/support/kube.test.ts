import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { test } from 'node:test';
import { type KubeFixture, startKube } from './kube.ts';

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** pids whose full command line matches the pgrep pattern */
function pgrep(pattern: string): number[] {
  try {
    return execFileSync('pgrep', ['-f', pattern], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l !== '')
      .map(Number);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

function anonymousGet(kube: KubeFixture, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.get(new URL(path, kube.server), { ca: kube.ca, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
}

test('the fixture serves a real kube-apiserver backed by etcd', { timeout: 180_000 }, async (t) => {
  const kube = await startKube({ log: (line) => t.diagnostic(line) });
  // This fixture's own processes: the apiserver names its port, etcd its data dir under the temp dir.
  const port = new URL(kube.server).port;
  const dir = path.dirname(kube.kubeconfigPath);
  const ours = () => [
    ...pgrep(`kube-apiserver.*--secure-port=${port}`),
    ...pgrep(`etcd.*--data-dir=${dir}/`),
  ];
  const running = ours();
  try {
    assert.equal(running.length, 2, `expected our apiserver and etcd running, found pids ${running}`);
    assert.match(kube.server, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(existsSync(kube.kubeconfigPath));
    const kubeconfig = JSON.parse(kube.kubeconfig);
    assert.equal(kubeconfig.clusters[0].cluster.server, kube.server);
    assert.equal(
      Buffer.from(kubeconfig.users[0].user['client-certificate-data'], 'base64').toString('utf8'),
      kube.cert,
    );

    const version = await kube.request('GET', '/version');
    assert.equal(version.status, 200);
    assert.equal(version.body.gitVersion, 'v1.33.13');

    const created = await kube.request('POST', '/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'outpost-fixture-test', labels: { 'outpost.dev/test': 'yes' } },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));

    const read = await kube.request('GET', '/api/v1/namespaces/outpost-fixture-test');
    assert.equal(read.status, 200);
    assert.equal(read.body.metadata.name, 'outpost-fixture-test');
    assert.equal(read.body.metadata.labels['outpost.dev/test'], 'yes');
    assert.ok(read.body.metadata.uid);

    const patched = await kube.request(
      'PATCH',
      '/api/v1/namespaces/outpost-fixture-test',
      { metadata: { annotations: { 'outpost.dev/patched': 'true' } } },
      'application/merge-patch+json',
    );
    assert.equal(patched.status, 200);
    assert.equal(patched.body.metadata.annotations['outpost.dev/patched'], 'true');

    const missing = await kube.request('GET', '/api/v1/namespaces/does-not-exist');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.kind, 'Status');

    // Only the CA, no client certificate: anonymous, and refused.
    const status = await anonymousGet(kube, '/api/v1/namespaces');
    assert.ok(status === 401 || status === 403, `expected 401 or 403 without a client cert, got ${status}`);
  } finally {
    await kube.stop();
    await kube.stop(); // idempotent
  }
  assert.ok(!existsSync(dir), 'temp dir removed');
  assert.deepEqual(ours(), [], 'no apiserver or etcd left behind');
  for (const pid of running) assert.ok(!pidAlive(pid), `pid ${pid} still alive`);
});
