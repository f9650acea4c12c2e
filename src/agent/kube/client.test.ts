import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { ClusterError } from '../apply/cluster.ts';
import { KubeCluster } from './client.ts';

// A stand-in API server that answers discovery and then whatever the test lines up for the next GETs.
let server: http.Server;
let url: string;
let answers: Array<{ status: number; headers?: Record<string, string> }> = [];
let gets = 0;

before(async () => {
  server = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/api/v1') {
      res.end(JSON.stringify({ resources: [{ name: 'configmaps', kind: 'ConfigMap', namespaced: true }] }));
      return;
    }
    gets++;
    const next = answers.shift() ?? { status: 200 };
    res.writeHead(next.status, next.headers);
    res.end(
      JSON.stringify(
        next.status === 200
          ? { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }
          : { kind: 'Status', message: `answer ${next.status}`, reason: 'ServiceUnavailable' },
      ),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => new Promise<void>((r) => server.close(() => r())));

const ref = { apiVersion: 'v1', kind: 'ConfigMap', name: 'x', namespace: 'default' };

function client(retries = 3) {
  return new KubeCluster({ server: url, tls: {}, source: 'test' }, { retries, retryBaseMs: 1 });
}

test('5xx and 429 are retried with backoff, and the caller sees the success', async () => {
  gets = 0;
  answers = [{ status: 503 }, { status: 429, headers: { 'retry-after': '0' } }, { status: 500 }];
  const c = client();
  try {
    const obj = await c.get(ref);
    assert.equal(obj?.metadata.name, 'x');
    assert.equal(gets, 4);
  } finally {
    c.close();
  }
});

test('when the retries run out the caller gets a transient ClusterError with the server words', async () => {
  gets = 0;
  answers = [{ status: 503 }, { status: 503 }, { status: 503 }];
  const c = client(2);
  try {
    await assert.rejects(c.get(ref), (e: unknown) => {
      assert.ok(e instanceof ClusterError);
      assert.equal(e.status, 503);
      assert.equal(e.transient, true);
      assert.equal(e.message, 'answer 503');
      return true;
    });
    assert.equal(gets, 3);
  } finally {
    c.close();
  }
});

test('a refused connection is a transient ClusterError', async () => {
  const closed = http.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const c = new KubeCluster(
    { server: `http://127.0.0.1:${port}`, tls: {}, source: 'test' },
    { retries: 1, retryBaseMs: 1 },
  );
  try {
    await assert.rejects(
      c.resourceOf('v1', 'ConfigMap'),
      (e: unknown) => e instanceof ClusterError && e.status === 0 && e.transient,
    );
  } finally {
    c.close();
  }
});

test('a 4xx is the answer, not retried', async () => {
  gets = 0;
  answers = [{ status: 403 }];
  const c = client();
  try {
    await assert.rejects(
      c.get(ref),
      (e: unknown) => e instanceof ClusterError && e.status === 403 && !e.transient,
    );
    assert.equal(gets, 1);
  } finally {
    c.close();
  }
});

test('an abort during a retry backoff ends the call at once, not after the backoff', async () => {
  gets = 0;
  answers = [{ status: 503 }, { status: 503 }];
  // the first backoff is at least 2 s (half its 4 s cap): returning within a second proves it was cut short
  const c = new KubeCluster({ server: url, tls: {}, source: 'test' }, { retries: 3, retryBaseMs: 4000 });
  const shutdown = new AbortController();
  try {
    const started = Date.now();
    const listing = c.list({ apiVersion: 'v1', kind: 'ConfigMap' }, { signal: shutdown.signal });
    setTimeout(() => shutdown.abort(new Error('agent stopping')), 100);
    await assert.rejects(listing, /agent stopping/);
    assert.ok(Date.now() - started < 1000, `returned after ${Date.now() - started} ms`);
    assert.equal(gets, 1, 'no further attempt after the abort');
  } finally {
    answers = [];
    c.close();
  }
});
