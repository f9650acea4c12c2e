import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type LocalStatus, renderLocalPage, serveLocalPage } from './local-page.ts';

const digest = `sha256:${'a'.repeat(64)}`;

function status(over: Partial<LocalStatus> = {}): LocalStatus {
  return {
    site: 'store-7',
    hub: 'https://hub.example',
    agentVersion: '0.1.0',
    startedAt: '2025-05-01T10:00:00.000Z',
    hubContact: { last: '2025-05-01T10:00:00.000Z', reachable: false, error: 'connect ECONNREFUSED' },
    desiredDigest: digest,
    deployments: [
      {
        bundle: 'till',
        revision: 4,
        digest,
        runningDigest: digest,
        lastKnownGood: digest,
        state: 'Drifted',
        message: '<script>alert(1)</script>',
        counts: { total: 2, applied: 2, ready: 1 },
        drift: [{ object: 'ConfigMap shop/till', path: 'data.mode', want: '"<b>"', got: 'absent' }],
      },
    ],
    outbox: { pending: 3, bytes: 900, dropped: 0, nextSeq: 12 },
    ...over,
  };
}

test('the page shows what runs, the hub contact and the reports waiting, escaping everything', () => {
  const html = renderLocalPage(status(), Date.parse('2025-05-01T10:05:00.000Z'));
  assert.match(html, /<h1>Site store-7<\/h1>/);
  assert.match(html, /unreachable<\/span> — last contact 5 min ago \(connect ECONNREFUSED\)/);
  assert.match(html, /Reports waiting to be sent: <b>3<\/b>/);
  assert.match(html, /<td>till<\/td><td>4<\/td>/);
  assert.match(html, /data\.mode: want &quot;&lt;b&gt;&quot;, got absent/);
  assert.ok(!html.includes('<script>'), 'values from the cluster are escaped');
  assert.ok(
    !/https?:\/\/(?!hub\.example)/.test(html.replace(/href="\/status\.json"/, '')),
    'no external assets',
  );
});

test('an empty site says so', () => {
  assert.match(renderLocalPage(status({ deployments: [] })), /nothing placed on this site yet/);
});

test('host layers show for staff on site: which node holds the upgrade up and why, escaped', () => {
  const html = renderLocalPage(
    status({
      upgrades: [
        {
          layer: 'os',
          target: '6.1',
          state: 'Conformant',
          behind: [],
          detail: 'the os hook reached 6.1',
          startedAt: '2025-05-01T09:00:00.000Z',
        },
        {
          layer: 'kubernetes',
          target: 'v1.31.4+k3s1',
          state: 'Behind',
          behind: ['till-<2>'],
          detail: 'node till-<2> still runs v1.30.6+k3s1 3600 s after the upgrade to v1.31.4+k3s1 began',
          startedAt: '2025-05-01T09:00:00.000Z',
        },
      ],
    }),
    Date.parse('2025-05-01T10:05:00.000Z'),
  );
  assert.match(html, /<h2>Host layers<\/h2>/);
  assert.match(html, /<td>os<\/td><td>6\.1<\/td>\n<td><b style="color:#1a7f37">Conformant<\/b><\/td>/);
  assert.match(
    html,
    /<b style="color:#cf222e">Behind<\/b><\/td>\n<td>till-&lt;2&gt;<\/td><td>65 min ago<\/td>/,
  );
  assert.match(html, /node till-&lt;2&gt; still runs v1\.30\.6\+k3s1/);
  assert.doesNotMatch(renderLocalPage(status()), /Host layers/, 'no profile, no section');
});

test('the server answers GET and HEAD, refuses writes, and serves the same facts as JSON', async () => {
  const page = await serveLocalPage(
    '127.0.0.1:0',
    () => status(),
    () => ({ ready: true, reason: 'ready' }),
  );
  try {
    const json = await (await fetch(`${page.url}/status.json`)).json();
    assert.deepEqual(json, status());
    const head = await fetch(page.url, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal((await fetch(page.url, { method: 'DELETE' })).status, 405);
    assert.equal((await fetch(`${page.url}/admin`)).status, 404);
  } finally {
    await page.close();
  }
});

test('liveness answers whenever the page does; readiness answers 503 with what is missing until ready', async () => {
  let readiness = { ready: false, reason: 'has not reached the hub since it started' };
  const page = await serveLocalPage(
    '127.0.0.1:0',
    () => status(),
    () => readiness,
  );
  try {
    const live = await fetch(`${page.url}/healthz`);
    assert.equal(live.status, 200);
    const notReady = await fetch(`${page.url}/readyz`);
    assert.equal(notReady.status, 503);
    assert.equal(await notReady.text(), 'has not reached the hub since it started\n');
    readiness = { ready: true, reason: 'ready' };
    const ready = await fetch(`${page.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal(await ready.text(), 'ready\n');
  } finally {
    await page.close();
  }
});
