// The web dashboard in real headless Chromium (Debian's, driven by playwright-core) against a real hub
// with a simulated fleet of real agents: the overview agrees with the API, approving and pausing from
// the UI take effect, a viewer gets no write controls and the API refuses the viewer anyway, the map
// draws every site, the SLO pages show what the SLO API computes from SLIs that hand-driven kiosk sites
// post over mTLS, and the rollout page shows a gate's value and verdict. Every page is saved as a
// screenshot under test-output/screenshots/ for review.
// The hub's HTTPS certificate comes from its own per-test CA, so the browser context ignores HTTPS
// errors rather than trusting that CA system-wide.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { HubApi } from '../../src/cli/hub-api.ts';
import { ingestRelayBatch } from '../../src/hub/relays/batch-ingest.ts';
import { createRelay } from '../../src/hub/relays/relays.ts';
import { bucketMs, bucketStart } from '../../src/hub/slo/core/buckets.ts';
import { deploymentStates } from '../../src/model/deployment.ts';
import type { OutpostError } from '../../src/model/errors.ts';
import { decodeJoinToken } from '../../src/model/join-token.ts';
import { connectivities, lifecycles } from '../../src/model/site.ts';
import type { TelemetrySample } from '../../src/model/telemetry.ts';
import { HttpClient } from '../../src/net/http-client.ts';
import { createCsr } from '../../src/pki/csr.ts';
import { generateKeyPair } from '../../src/pki/keys.ts';
import { type FleetSummary, runFleet } from '../../src/sim/fleet.ts';
import { storeNodes } from '../../src/sim/nodes.ts';
import { contrastRatio, over, parseColor, type Rgba } from '../../src/web/contrast.ts';
import { burn, gateValue, parseCount, percent } from '../../src/web/format.ts';
import { eventually } from '../support/eventually.ts';
import { bundleFile, startTestHub, type TestHub } from '../support/fleet.ts';
import { enrollAt, type Site } from '../support/hub-server.ts';

const root = resolve(import.meta.dirname, '../..');
const shots = join(root, 'test-output', 'screenshots');
const sites = 24;
const configMap = (v: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'till-config', namespace: 'default' },
  data: { version: v },
});
const everywhere = { matchExpressions: [{ key: 'region', operator: 'Exists' }] };

let hub: TestHub;
let browser: Browser;
let fleetStop: AbortController;
let fleetDone: Promise<FleetSummary>;
let stateDir: string;
let rolloutId: string;

function chromiumPath(): string {
  if (process.env.OUTPOST_CHROMIUM) return process.env.OUTPOST_CHROMIUM;
  return execFileSync('bash', [join(root, 'scripts/chromium-fixture.sh')], { encoding: 'utf8' }).trim();
}

/**
 * Script errors and console errors (a Content-Security-Policy refusal shows as one) fail the test that
 * caused them; an API answer the test provoked on purpose (a refused token) is not one.
 */
const pageErrors: string[] = [];
function watchErrors(page: Page): void {
  page.on('pageerror', (e) => pageErrors.push(`${page.url()}: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    // the API's refusals and 404s (a wrong token, an SLO API not on this hub) are answers the UI shows
    const api = /\/api\/v1\//.test(m.location().url) && /status of (401|403|404)/.test(m.text());
    if (!api) pageErrors.push(`${page.url()}: ${m.text()} (${m.location().url})`);
  });
}

async function signedIn(
  token: string,
  viewport = { width: 1280, height: 900 },
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport });
  const page = await context.newPage();
  watchErrors(page);
  await page.goto(`${hub.hub.url}/ui/`);
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('role').waitFor();
  return { context, page };
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

/** Every form control has a label a screen reader can read. */
async function unlabelled(page: Page): Promise<string[]> {
  // evaluated in the page, where the DOM is
  return page.evaluate(`[...document.querySelectorAll('input, select, textarea')]
    .filter((el) => !el.labels?.length && !el.getAttribute('aria-label'))
    .map((el) => el.outerHTML.slice(0, 80))`);
}

/**
 * Text whose colour has less than 4.5:1 contrast with what is behind it (each visible text's colour and
 * its ancestors' backgrounds read in the page, composited and compared here). Disabled controls are
 * exempt, as WCAG allows.
 */
async function lowContrast(page: Page): Promise<string[]> {
  const texts = await page.evaluate<Array<{ text: string; fg: string; bgs: string[] }>>(`(() => {
    const out = [];
    const seen = new Set();
    const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walk.nextNode(); n; n = walk.nextNode()) {
      const el = n.parentElement;
      if (!el || seen.has(el) || !n.textContent.trim()) continue;
      seen.add(el);
      if (el.closest('[disabled], .sr-only, script, style, noscript')) continue;
      const box = el.getBoundingClientRect();
      if (box.width === 0 || box.height === 0) continue;
      const bgs = [];
      for (let a = el; a; a = a.parentElement) bgs.push(getComputedStyle(a).backgroundColor);
      out.push({ text: n.textContent.trim().slice(0, 40), fg: getComputedStyle(el).color, bgs });
    }
    return out;
  })()`);
  const failing: string[] = [];
  for (const t of texts) {
    let bg: Rgba = [255, 255, 255, 1];
    for (const c of [...t.bgs].reverse()) {
      const layer = parseColor(c);
      if (layer && layer[3] > 0) bg = over(layer, bg);
    }
    const fg = parseColor(t.fg);
    if (!fg) continue;
    const ratio = contrastRatio(fg, bg);
    if (ratio < 4.5)
      failing.push(
        `"${t.text}" ${t.fg} on rgb(${bg.slice(0, 3).map(Math.round).join(', ')}): ${ratio.toFixed(2)}:1`,
      );
  }
  return failing;
}

/** A site asks to join with a token that needs approval; it waits as Pending. */
async function registerPending(name: string): Promise<void> {
  const { joinToken } = await hub.api.createBootstrapToken({
    description: 'needs approval',
    autoApprove: false,
    maxUses: 5,
  });
  const http = new HttpClient(hub.hub.url, { ca: hub.hub.caPem });
  try {
    const { privateKeyPem } = generateKeyPair();
    const r = await http.request('POST', '/agent/v1/register', {
      body: {
        token: decodeJoinToken(joinToken)!.token,
        machineId: `machine-${name}-browser`,
        name,
        labels: { region: 'eu-west' },
        csr: createCsr({ commonName: 'site', keyPem: privateKeyPem }),
      },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal((r.body as { lifecycle: string }).lifecycle, 'Pending');
  } finally {
    http.close();
  }
}

/** A profile placed on one region's stores: k3s at `version`, Ubuntu 24.04. */
const profileFile = (name: string, region: string, version: string, deadlineSeconds: number) => ({
  files: [
    {
      path: `profiles/${name}.yaml`,
      content: [
        'apiVersion: outpost.dev/v1',
        'kind: Profile',
        `metadata: { name: ${name} }`,
        'spec:',
        `  placement: { selector: { matchLabels: { region: ${region} } } }`,
        `  kubernetes: { distribution: k3s, version: ${version} }`,
        '  os: { image: Ubuntu, version: "24.04" }',
        `  upgradeDeadlineSeconds: ${deadlineSeconds}`,
        '',
      ].join('\n'),
    },
  ],
});

// ---- kiosks: sites driven by hand over real mTLS, posting SLI telemetry ------------------------------

const kiosks: Site[] = [];
const kioskSeq = new Map<string, number>();
let kioskBatches = 0;

const kioskBundle = (v: string, rollout?: Record<string, unknown>) =>
  bundleFile(
    'kiosk',
    { matchLabels: { kiosk: 'yes' } },
    [{ ...configMap(v), metadata: { name: 'kiosk-config', namespace: 'default' } }],
    rollout ? { rollout } : {},
  );

/** Reports the kiosk Ready on whatever revision of the kiosk bundle it is given; returns that revision. */
async function reportReady(site: Site): Promise<number | undefined> {
  const r = await site.call('GET', '/agent/v1/sites/:site/desired');
  assert.equal(r.status, 200);
  const d = (
    r.body as { deployments: Array<{ bundle: string; revision: number; digest: string }> }
  ).deployments.find((x) => x.bundle === 'kiosk');
  if (!d) return undefined;
  const seq = (kioskSeq.get(site.siteId) ?? 0) + 1;
  kioskSeq.set(site.siteId, seq);
  const rep = await site.call('POST', '/agent/v1/sites/:site/report', {
    seq,
    deployments: [
      { bundle: 'kiosk', digest: d.digest, state: 'Ready', counts: { total: 1, applied: 1, ready: 1 } },
    ],
  });
  assert.equal(rep.status, 200, JSON.stringify(rep.body));
  return d.revision;
}

async function postSlis(site: Site, t: number, requests: number, errors: number): Promise<void> {
  const samples: TelemetrySample[] = [
    { class: 'sli', name: 'requests_total', bundle: 'kiosk', t, d: 60_000, v: requests },
    { class: 'sli', name: 'errors_total', bundle: 'kiosk', t, d: 60_000, v: errors },
  ];
  const r = await site.call('POST', '/agent/v1/sites/:site/telemetry', {
    batchId: `kiosk-${++kioskBatches}`,
    samples,
    events: [],
    dropped: { sli: 0, event: 0, metric: 0, debug: 0 },
  });
  assert.deepEqual(r.body, { accepted: true });
}

/** Two kiosks (once), running revision 1 of the kiosk bundle; no `region` label, so no till. */
async function enrollKiosks(): Promise<void> {
  if (kiosks.length > 0) return;
  const token = decodeJoinToken(hub.joinToken)!.token;
  for (const name of ['kiosk-a', 'kiosk-b']) {
    kiosks.push(await enrollAt(hub.hub.url, hub.hub.caPem, token, name, { kiosk: 'yes' }));
  }
  await hub.api.applyBundle(kioskBundle('1'));
  for (const k of kiosks) assert.equal(await reportReady(k), 1);
}

before(async () => {
  // the hub serves whatever dist/web holds: make sure it is this checkout's dashboard
  execFileSync('bash', [join(root, 'scripts/build-web.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
  await mkdir(shots, { recursive: true });
  hub = await startTestHub();
  await hub.api.applyBundle(bundleFile('till', everywhere, [configMap('1')]));
  stateDir = await mkdtemp(join(tmpdir(), 'outpost-browser-fleet-'));
  fleetStop = new AbortController();
  fleetDone = runFleet(
    {
      joinToken: hub.joinToken,
      sites,
      seed: 9,
      stateDir,
      regions: ['us-east', 'us-west', 'eu-central', 'ap-southeast'],
      behaviour: { applyLatencyMs: 2, readyAfterMs: 200, progressDeadlineMs: 5000, transientFailureRate: 0 },
      agent: { pollWaitSeconds: 5, heartbeatMs: 2000, readinessResyncMs: 200, driftCheckMs: 60_000 },
    },
    fleetStop.signal,
  );
  await eventually(
    'the simulated stores to register and run the till bundle',
    async () => {
      const s = await hub.api.status();
      return s.sites.byLifecycle.Active === sites && s.deployments.byState.Ready === sites;
    },
    { timeoutMs: 90_000, intervalMs: 250 },
  );
  browser = await chromium.launch({
    executablePath: chromiumPath(),
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

after(async () => {
  for (const k of kiosks) k.http.close();
  await browser?.close();
  fleetStop?.abort();
  await fleetDone?.catch(() => undefined);
  await hub?.stop();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
  process.stderr.write(`dashboard screenshots: ${shots}\n`);
});

describe('the dashboard in Chromium', () => {
  afterEach(() => {
    const seen = pageErrors.splice(0);
    assert.deepEqual(seen, [], 'no script or console errors in the page');
  });

  test('a wrong token is refused at sign-in', async () => {
    const context = await browser.newContext({
      ignoreHTTPSErrors: true,
      viewport: { width: 1280, height: 800 },
    });
    const page = await context.newPage();
    watchErrors(page);
    await page.goto(`${hub.hub.url}/ui/`);
    await shot(page, '00-sign-in');
    await page.getByLabel('API token').fill('oat_00000000-0000-7000-8000-000000000000.notarealsecretatall');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    assert.match(String(await page.getByRole('alert').textContent()), /invalid or revoked/);
    await context.close();
  });

  test('the overview numbers match the API, and live updates are connected', async () => {
    const { context, page } = await signedIn(hub.adminToken);
    await page.getByTestId('sites-total').waitFor();
    await page.getByText('Live', { exact: true }).waitFor();
    const ids = [
      'sites-total',
      ...lifecycles.map((k) => `lifecycle-${k}`),
      ...connectivities.map((k) => `connectivity-${k}`),
      ...deploymentStates.map((k) => `deployments-${k}`),
    ];
    await eventually(
      'the overview to show the numbers GET /api/v1/status gives',
      async () => {
        const s = await hub.api.status();
        const want: Record<string, number> = { 'sites-total': s.sites.total };
        for (const k of lifecycles) want[`lifecycle-${k}`] = s.sites.byLifecycle[k] ?? 0;
        for (const k of connectivities) want[`connectivity-${k}`] = s.sites.byConnectivity[k] ?? 0;
        for (const k of deploymentStates) want[`deployments-${k}`] = s.deployments.byState[k] ?? 0;
        const shown: Record<string, number> = {};
        for (const id of ids) shown[id] = parseCount(String(await page.getByTestId(id).textContent()));
        assert.deepEqual(shown, want);
        return true;
      },
      { timeoutMs: 15_000, intervalMs: 500 },
    );
    assert.equal(Number(await page.getByTestId('sites-total').textContent()), sites);
    assert.deepEqual(await unlabelled(page), []);
    assert.deepEqual(await lowContrast(page), []);
    await shot(page, '01-overview');
    const wide = await page.evaluate<number>('document.documentElement.scrollWidth');
    assert.ok(wide <= 1280, `no sideways scrolling at 1280 px (page is ${wide} px wide)`);

    // the keyboard alone: the first Tab reaches the skip link, further Tabs the sections, Enter opens one
    const focused = () => page.evaluate<string>('document.activeElement?.textContent?.trim() ?? ""');
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'Skip to content');
    for (let i = 0; i < 10 && (await focused()) !== 'Sites'; i++) await page.keyboard.press('Tab');
    assert.equal(await focused(), 'Sites');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Sites', level: 1 }).waitFor();
    // the page moves focus once it has rendered (an effect after the heading is painted), so wait for it
    await eventually(
      'focus to move to the new page',
      async () => (await page.evaluate<string>('document.activeElement?.id')) === 'main',
      { timeoutMs: 5_000, intervalMs: 50 },
    );
    await context.close();
  });

  test('the overview follows the fleet live, over the authenticated event stream', async () => {
    const { context, page } = await signedIn(hub.adminToken);
    await page.getByText('Live', { exact: true }).waitFor();
    const pending = page.getByTestId('lifecycle-Pending');
    await pending.waitFor();
    const before = parseCount(String(await pending.textContent()));
    const urls: string[] = [];
    page.on('request', (r) => urls.push(r.url()));
    await registerPending('live-store');
    // no reload, no navigation: the registered event arrives on the stream and the page reads again
    await eventually(
      'the overview to count the new pending site',
      async () => parseCount(String(await pending.textContent())) === before + 1,
      { timeoutMs: 15_000, intervalMs: 250 },
    );
    await page.getByRole('region', { name: 'Latest events' }).getByText('live-store').first().waitFor();
    assert.ok(
      urls.every((u) => !/token|oat_/.test(u)),
      `no request carries the token in its URL: ${urls.join(' ')}`,
    );
    await hub.api.reject('live-store');
    await context.close();
  });

  test('a dropped event stream reconnects and resumes after the last event it saw', async () => {
    const context = await browser.newContext({
      ignoreHTTPSErrors: true,
      viewport: { width: 1280, height: 900 },
    });
    const page = await context.newPage();
    // the first connection is cut (the page logs that as a failed load, so errors are not watched here)
    const asked: Array<string | undefined> = [];
    await page.route('**/api/v1/events/stream', async (route) => {
      asked.push(route.request().headers()['last-event-id']);
      if (asked.length === 1) await route.abort('connectionreset');
      else await route.continue();
    });
    const { lastId } = await hub.api.events({ limit: 1 });
    await page.goto(`${hub.hub.url}/ui/`);
    await page.getByLabel('API token').fill(hub.adminToken);
    await page.keyboard.press('Enter');
    await page.getByText('Live', { exact: true }).waitFor({ timeout: 20_000 });
    assert.ok(asked.length >= 2, `reconnected (${asked.length} connections)`);
    // (an event may land between the test's read and the page's, never before it)
    assert.ok(
      Number(asked[0]) >= lastId,
      `the first connection starts after the latest event shown (${asked[0]})`,
    );
    assert.ok(Number(asked[1]) >= Number(asked[0]), `the second resumes from there (${asked[1]})`);
    const pending = page.getByTestId('lifecycle-Pending');
    const before = parseCount(String(await pending.textContent()));
    await registerPending('resumed-store');
    await eventually(
      'the reconnected stream to bring the new site',
      async () => parseCount(String(await pending.textContent())) === before + 1,
      { timeoutMs: 15_000, intervalMs: 250 },
    );
    await hub.api.reject('resumed-store');
    await context.close();
  });

  test('approving a pending site in the UI makes it Active with the labels given', async () => {
    await registerPending('new-store');
    const { context, page } = await signedIn(hub.adminToken);
    await page.getByRole('link', { name: 'Registrations' }).click();
    const card = page.getByTestId('pending-new-store');
    await card.waitFor();
    await shot(page, '04-registrations');
    await card.getByLabel('Labels').fill('region=eu-west, format=mini');
    await card.getByRole('button', { name: 'Approve' }).click();
    const site = await eventually('new-store to be Active', async () => {
      const s = await hub.api.site('new-store');
      return s.lifecycle === 'Active' ? s : undefined;
    });
    assert.deepEqual(site.labels, { region: 'eu-west', format: 'mini' });
    await page.getByText('No site is waiting for approval.').waitFor();
    await context.close();
  });

  test('pausing a rollout in the UI pauses it', async () => {
    const applied = await hub.api.applyBundle(
      bundleFile('till', everywhere, [configMap('2')], {
        rollout: {
          waves: [
            { name: 'canary', count: 1 },
            { name: 'rest', percent: 100 },
          ],
          bakeSeconds: 3600,
        },
      }),
    );
    assert.ok(applied.rollout, 'the change started a rollout');
    rolloutId = applied.rollout;
    const { context, page } = await signedIn(hub.adminToken);
    await page.getByRole('link', { name: 'Rollouts' }).click();
    await page.getByRole('link', { name: 'till' }).click();
    await page.getByRole('heading', { name: /till: revision 1 → 2/ }).waitFor();
    await page.getByRole('button', { name: 'Pause' }).click();
    await eventually(
      'the rollout to be Paused',
      async () => (await hub.api.rollout(rolloutId)).phase === 'Paused',
    );
    await page.getByTestId('rollout-phase').getByText('Paused').waitFor();
    assert.deepEqual(await lowContrast(page), []);
    await page.getByRole('button', { name: 'Resume' }).waitFor();
    await shot(page, '07-rollout');
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Rollouts' }).click();
    await page.getByRole('table').waitFor();
    await shot(page, '06-rollouts');
    await context.close();
  });

  test('a viewer sees no write buttons, and the API refuses the viewer its writes', async () => {
    await registerPending('waiting-store');
    const { token } = await hub.api.createApiToken('browser-viewer', 'viewer');
    const { context, page } = await signedIn(token);
    assert.match(String(await page.getByTestId('role').textContent()), /viewer/);
    const writes =
      /^(Approve|Reject|Pause|Resume|Promote|Roll back|Abort|Approve next wave|Retry failed sites)$/;

    await page.getByRole('link', { name: 'Registrations' }).click();
    await page.getByTestId('pending-waiting-store').waitFor();
    assert.equal(await page.getByRole('button', { name: writes }).count(), 0);
    await page.getByText('Approving needs the operator role.').waitFor();

    await page.goto(`${hub.hub.url}/ui/rollouts/${rolloutId}`);
    await page.getByRole('heading', { name: /till: revision 1 → 2/ }).waitFor();
    await page.getByText('Controlling rollouts needs the operator role.').waitFor();
    assert.equal(await page.getByRole('button', { name: writes }).count(), 0);
    await shot(page, '11-rollout-as-viewer');

    const viewerApi = new HubApi(hub.hub.url, token, hub.hub.caPem);
    try {
      for (const write of [
        () => viewerApi.approve('waiting-store', {}),
        () => viewerApi.rolloutAction(rolloutId, 'resume'),
      ]) {
        await assert.rejects(write, (e: OutpostError) => e.code === 'forbidden' && e.status === 403);
      }
    } finally {
      viewerApi.close();
    }
    assert.equal((await hub.api.site('waiting-store')).lifecycle, 'Pending');
    assert.equal((await hub.api.rollout(rolloutId)).phase, 'Paused');
    await context.close();
  });

  test('the map draws every site that has coordinates; the keyboard zooms it', async () => {
    const { context, page } = await signedIn(hub.adminToken);
    await page.getByRole('link', { name: 'Map' }).click();
    const map = page.getByTestId('site-map');
    await map.waitFor();
    const located = (await hub.api.sites()).filter(
      (s) =>
        s.lifecycle !== 'Decommissioned' &&
        typeof s.facts.lat === 'number' &&
        typeof s.facts.lon === 'number',
    ).length;
    assert.equal(located, sites, 'every simulated store reported coordinates');
    assert.equal(Number(await map.getAttribute('data-sites')), located);
    assert.equal(Number(await map.getAttribute('data-visible-sites')), located, 'the whole world is in view');
    const clustersAtWorld = Number(await map.getAttribute('data-clusters'));
    assert.ok(clustersAtWorld >= 4 && clustersAtWorld < located, `${clustersAtWorld} clusters for 4 regions`);
    assert.deepEqual(await lowContrast(page), []);
    await shot(page, '02-map');
    await map.focus();
    for (let i = 0; i < 4; i++) await page.keyboard.press('+');
    await eventually(
      'zooming in to split clusters',
      async () => Number(await map.getAttribute('data-clusters')) > clustersAtWorld,
    );
    assert.equal(Number(await map.getAttribute('data-sites')), located, 'zooming loses no site');
    await context.close();
  });

  test('every other page renders, labelled, at desktop and tablet widths', async () => {
    const { context, page } = await signedIn(hub.adminToken);
    const visit = async (path: string, ready: () => Promise<unknown>, name: string) => {
      await page.goto(`${hub.hub.url}/ui${path}`);
      await ready();
      assert.deepEqual(await unlabelled(page), [], `${path}: every control is labelled`);
      assert.deepEqual(await lowContrast(page), [], `${path}: every text readable`);
      assert.equal(await page.getByRole('alert').count(), 0, `${path}: no error shown`);
      await shot(page, name);
    };
    await visit('/sites', () => page.getByTestId('sites').waitFor(), '03-sites');
    assert.equal(await page.getByTestId('sites').locator('tbody tr').count(), sites + 2);
    // keyset paging: three pages of 10 hold every site once, in the API's order
    await page.goto(`${hub.hub.url}/ui/sites?limit=10`);
    const names: string[] = [];
    for (let p = 1; p <= 3; p++) {
      await page.getByText(`Page ${p}`, { exact: true }).waitFor();
      names.push(...(await page.getByTestId('sites').locator('tbody tr td:first-child').allTextContents()));
      if (p < 3) await page.getByRole('button', { name: 'Next page' }).click();
    }
    assert.equal(await page.getByRole('button', { name: 'Next page' }).isDisabled(), true);
    const all = (await hub.api.query({ limit: 1000 })).sites!.map((x) => x.name);
    assert.deepEqual(names, all);
    await page.getByRole('button', { name: 'Previous page' }).click();
    await page.getByText('Page 2', { exact: true }).waitFor();
    assert.deepEqual(
      await page.getByTestId('sites').locator('tbody tr td:first-child').allTextContents(),
      all.slice(10, 20),
    );
    await page.goto(`${hub.hub.url}/ui/sites`);
    await page.getByTestId('sites').waitFor();
    await page.getByLabel('Filter').fill('region=us-east');
    await page.getByRole('button', { name: 'Apply' }).click();
    await eventually(
      'the filter to apply',
      async () => (await page.getByTestId('sites').locator('tbody tr').count()) === sites / 4,
    );
    await page.getByLabel('Group by').selectOption('connectivity');
    await page.getByTestId('groups').waitFor();
    await shot(page, '03-sites-grouped');
    await visit(
      '/sites/store-0001',
      () => page.getByRole('heading', { name: 'Deployments' }).waitFor(),
      '03-site-detail',
    );
    assert.match(String(await page.getByTestId('cert-expiry').textContent()), /expires in/);
    await visit('/bundles', () => page.getByRole('link', { name: 'till' }).waitFor(), '05-bundles');
    await visit(
      '/bundles/till?site=store-0002',
      () => page.getByText('ConfigMap default/till-config').waitFor(),
      '05-bundle-detail',
    );
    // where each revision is, as the fleet query counts it
    await eventually('the revision table to match the API', async () => {
      const api = await hub.api.query({ bundle: 'till', groupBy: ['revision', 'state'] });
      const want = (api.groups ?? []).map((g) => `${g.key.revision}${g.key.state}${g.count}`);
      const shown = (await page.getByTestId('revisions').locator('tbody tr').allTextContents()).map((row) =>
        row.replace(/\s/g, ''),
      );
      assert.deepEqual(shown, want);
      return true;
    });
    await page.getByText('ConfigMap default/till-config').click();
    await page.getByText('"version"').first().waitFor();
    // a plan of the next change: every site would update its ConfigMap, nothing is applied
    const next = bundleFile('till', everywhere, [configMap('3')]).files[0]!.content;
    await page.getByLabel(/Bundle YAML/).fill(next);
    await page.getByRole('button', { name: 'Plan', exact: true }).click();
    const plan = page.getByTestId('plan-result');
    await plan.waitFor();
    assert.equal(await plan.locator('details').count(), sites + 1, 'every site with the bundle would change');
    await plan.locator('summary').first().click();
    await plan.getByText('~ ConfigMap default/till-config').first().waitFor();
    await shot(page, '05-bundle-plan');
    assert.equal(
      (await hub.api.bundles()).find((b) => b.name === 'till')?.revision,
      2,
      'planning applied nothing',
    );
    // (the SLO pages are walked with real SLO data by the tests below)

    await page.setViewportSize({ width: 820, height: 1180 });
    await visit('/', () => page.getByTestId('sites-total').waitFor(), '09-overview-tablet');
    const wide = await page.evaluate<number>('document.documentElement.scrollWidth');
    assert.ok(wide <= 820, `no sideways scrolling on a tablet (page is ${wide} px wide)`);
    await visit('/sites', () => page.getByTestId('sites').waitFor(), '10-sites-tablet');
    await context.close();
  });
  test('the profiles page shows conformance per layer, the sites behind and why, and the profile rollout paused on them', async () => {
    const region = sites / 4;
    await hub.api.applyProfiles(profileFile('stores-eu', 'eu-central', 'v1.31.4+k3s1', 3600));
    await hub.api.applyProfiles(profileFile('stores-west', 'us-west', 'v1.32.1+k3s1', 3600));
    // the simulated stores run v1.31.4: us-east's first revision is two minors ahead, which no upgrade
    // bridges in one step, so those stores are Behind at once; the second revision is a rollout whose
    // canary (the first us-east store by name) is Behind as well, and the rollout pauses on it
    await hub.api.applyProfiles(profileFile('stores-east', 'us-east', 'v1.33.1+k3s1', 3600));
    await hub.api.applyProfiles(profileFile('stores-east', 'us-east', 'v1.33.2+k3s1', 3600));
    const paused = await eventually(
      'the stores-east rollout to pause on its canary',
      async () => {
        const r = (await hub.api.profileRollouts('stores-east'))[0];
        return r?.phase === 'Paused' ? hub.api.profileRollout(r.id) : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    assert.deepEqual(
      paused.failed.map((f) => f.site),
      ['store-0001'],
    );
    const east = await eventually(
      'the stores to report their nodes and be judged',
      async () => {
        const c = await hub.api.profileConformance('stores-east');
        const e = await hub.api.profileConformance('stores-eu');
        return c.counts.Behind === region && e.counts.Conformant === region ? c : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );

    const { context, page } = await signedIn(hub.adminToken);
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Profiles' }).click();
    await page.getByTestId('profile-stores-east').waitFor();
    assert.equal(await page.title(), 'Profiles · Outpost');
    await eventually('each profile to show its sites by state as the API counts them', async () => {
      for (const p of await hub.api.profiles()) {
        const row = String(await page.getByTestId(`profile-${p.name}`).textContent());
        for (const [state, n] of Object.entries(p.counts))
          if (n > 0) assert.match(row, new RegExp(`${state}\\s*${n}`), `${p.name}: ${row}`);
      }
      return true;
    });
    assert.deepEqual(await lowContrast(page), []);
    await shot(page, '11-profiles');

    await page.getByRole('link', { name: 'stores-east' }).click();
    await page.getByTestId('off-profile').waitFor();
    // per layer, the counts the API gives
    for (const [layer, states] of Object.entries(east.layers)) {
      for (const [state, n] of Object.entries(states)) {
        assert.equal(
          await page.getByTestId(`layer-${layer}-${state}`).textContent(),
          String(n),
          `${layer} ${state}`,
        );
      }
    }
    assert.equal(await page.getByTestId('layer-kubernetes-Behind').textContent(), String(region));
    assert.equal(await page.getByTestId('layer-os-Conformant').textContent(), String(region));
    // every store behind, on the revision it was given, with its node the simulator made and why
    for (const s of east.sites) {
      const layer = s.layers.find((l) => l.layer === 'kubernetes')!;
      const nodes = storeNodes(9, s.site).map((n) => n.name);
      assert.ok(nodes.includes(layer.behind[0]!), `${s.site}: ${layer.behind.join(',')} is one of ${nodes}`);
      assert.match(layer.detail, /v1\.31\.4\+k3s1 → v1\.33\.[12]\+k3s1 skips a Kubernetes minor/);
      const text = String(await page.getByTestId(`off-${s.site}`).textContent());
      assert.ok(text.startsWith(`${s.site}Behind${s.revision}`), text);
      assert.ok(text.includes(`kubernetes Behind${layer.behind.join(', ')}${layer.detail}`), text);
    }
    assert.deepEqual(
      east.sites.map((s) => [s.site, s.revision]).filter(([, r]) => r === 2),
      [['store-0001', 2]],
      'only the canary was given the second revision',
    );
    const revisions = await page.getByTestId('profile-revisions').locator('tbody tr').allTextContents();
    assert.equal(revisions.length, 2);
    assert.match(revisions[0]!, /^2OS Ubuntu 24\.04 · Kubernetes k3s v1\.33\.2\+k3s1/);
    assert.match(revisions[1]!, /^1OS Ubuntu 24\.04 · Kubernetes k3s v1\.33\.1\+k3s1/);
    assert.deepEqual(await lowContrast(page), []);
    await shot(page, '11-profile-detail');

    // the profile's rollout, paused on the canary: resume and the rest, but no roll back
    await page.getByTestId('profile-rollouts').getByRole('link', { name: 'stores-east' }).click();
    await page.getByTestId('profile-rollout-failed').waitFor();
    assert.equal(await page.getByTestId('profile-rollout-phase').textContent(), 'Paused');
    assert.deepEqual(
      (await page.getByTestId('profile-rollout-failed').locator('tbody td').allTextContents()).map((c) =>
        c.trim(),
      ),
      [paused.failed[0]!.site, paused.failed[0]!.wave, paused.failed[0]!.reason],
    );
    await page.getByRole('button', { name: 'Resume' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Roll back' }).count(), 0);
    assert.deepEqual(await lowContrast(page), []);
    await shot(page, '11-profile-rollout');
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Rollouts' }).click();
    const listed = page.getByTestId('profile-rollouts').locator('tbody tr', { hasText: 'stores-east' });
    await listed.waitFor();
    assert.match(String(await listed.textContent()), /stores-east1 → 2Paused/);

    // from the store behind to its page: the stack it runs, node by node
    const store = 'store-0001';
    await page.goto(`${hub.hub.url}/ui/profiles/stores-east`);
    await page.getByTestId(`off-${store}`).getByRole('link', { name: store }).click();
    await page.getByTestId('site-nodes').waitFor();
    assert.match(
      String(await page.getByTestId('site-profile').textContent()),
      /stores-east revision 2: Behind/,
    );
    const nodeRows = (await page.getByTestId('site-nodes').locator('tbody tr').allTextContents()).sort();
    assert.deepEqual(
      nodeRows,
      storeNodes(9, store)
        .map(
          (n) =>
            `${n.name}${n.labels['node-role.kubernetes.io/control-plane'] ? 'server' : 'agent'}v1.31.4+k3s1Ubuntu 24.04.1 LTScontainerd://1.7.23-k3s26.8.0-49-genericamd64`,
        )
        .sort(),
    );
    assert.deepEqual(await unlabelled(page), []);
    assert.deepEqual(await lowContrast(page), []);
    await shot(page, '11-site-stack');
    await context.close();
  });
  test('a site page shows the host-layer upgrade its agent reports, with the nodes not there yet', async () => {
    await enrollKiosks();
    const kiosk = kiosks[0]!;
    const node = (name: string, kubeletVersion: string, controlPlane: boolean) => ({
      name,
      kubeletVersion,
      containerRuntimeVersion: 'containerd://2.0.4-k3s2',
      osImage: 'SL-Micro 6.1',
      kernelVersion: '6.4.0-24-default',
      architecture: 'arm64',
      controlPlane,
    });
    const seq = (kioskSeq.get(kiosk.siteId) ?? 0) + 1;
    kioskSeq.set(kiosk.siteId, seq);
    const r = await kiosk.call('POST', '/agent/v1/sites/:site/report', {
      seq,
      deployments: [],
      stack: {
        agentVersion: '0.3.0',
        kubernetesVersion: 'v1.33.1+k3s1',
        nodes: [node('kiosk-a-1', 'v1.33.1+k3s1', true), node('kiosk-a-2', 'v1.32.5+k3s1', false)],
        upgrades: [
          {
            layer: 'kubernetes',
            target: 'v1.33.1+k3s1',
            state: 'Upgrading',
            behind: ['kiosk-a-2'],
            detail: '1 of 2 nodes run v1.33.1+k3s1; next: kiosk-a-2',
            startedAt: new Date(Date.now() - 120_000).toISOString(),
          },
        ],
      },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));

    const { context, page } = await signedIn(hub.adminToken);
    await page.goto(`${hub.hub.url}/ui/sites/${kiosk.name}`);
    await page.getByTestId('site-upgrades').waitFor();
    assert.deepEqual(
      (
        await page
          .getByTestId('site-upgrades')
          .locator('tbody tr')
          .first()
          .locator('th, td')
          .allTextContents()
      ).map((c) => c.trim()),
      [
        'kubernetes',
        'v1.33.1+k3s1',
        'Upgrading',
        'kiosk-a-2',
        '1 of 2 nodes run v1.33.1+k3s1; next: kiosk-a-2',
        '2 min ago',
      ],
    );
    assert.deepEqual(
      await page.getByTestId('site-nodes').locator('tbody tr td:nth-child(3)').allTextContents(),
      ['v1.33.1+k3s1', 'v1.32.5+k3s1'],
    );
    assert.match(String(await page.getByText(/^Agent 0\.3\.0/).textContent()), /API server v1\.33\.1\+k3s1/);
    await page.getByText('No profile is placed on this site.').waitFor();
    assert.deepEqual(await lowContrast(page), []);
    await shot(page, '11-site-upgrade');
    await context.close();
  });
  test('SLO list and detail pages show the budget and burn the SLO API computes from posted telemetry', async () => {
    await enrollKiosks();
    const created = await hub.api.applySlo({
      name: 'kiosk-errors',
      bundle: 'kiosk',
      objective: 0.99,
      window: '7d',
      sli: { kind: 'errors' },
      description: 'Kiosk requests that do not fail',
    });
    assert.equal(created.sites, 2, 'both kiosks are in scope');
    // a minute ago: kiosk-a failed 2 of 1,000 requests, kiosk-b 8 of 1,000 → 0.5% errors against a 1%
    // budget, so half the budget is spent and it burns at 0.5× over both 1 h and 6 h
    const t = Date.now() - 60_000;
    await postSlis(kiosks[0]!, t, 1000, 2);
    await postSlis(kiosks[1]!, t, 1000, 8);
    const slo = await hub.api.slo('kiosk-errors');
    assert.ok(Math.abs(slo.budgetRemaining - 0.5) < 1e-9, `budget ${slo.budgetRemaining}`);
    assert.ok(Math.abs((slo.burn.fast ?? 0) - 0.5) < 1e-9, `fast burn ${slo.burn.fast}`);
    assert.ok(Math.abs((slo.burn.slow ?? 0) - 0.5) < 1e-9, `slow burn ${slo.burn.slow}`);
    assert.equal(slo.worstSites[0]?.site, 'kiosk-b');

    const { context, page } = await signedIn(hub.adminToken);
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'SLOs' }).click();
    const row = page.getByRole('row', { name: /kiosk-errors/ });
    await row.waitFor();
    const cells = (await row.locator('td').allTextContents()).map((c) => c.trim());
    assert.deepEqual(cells.slice(1), [
      percent(slo.objective, 2),
      percent(slo.attainment, 3),
      percent(slo.budgetRemaining, 1),
      burn(slo.burn.fast),
      burn(slo.burn.slow),
      slo.alert,
      String(slo.sites),
    ]);
    assert.deepEqual(await unlabelled(page), []);
    assert.deepEqual(await lowContrast(page), []);
    await shot(page, '08-slos');

    await row.getByRole('link', { name: 'kiosk-errors' }).click();
    await page.getByRole('heading', { name: 'kiosk-errors' }).waitFor();
    const summary = page.getByText('Kiosk requests that do not fail');
    await summary.waitFor();
    // (the budget meter between the words has no text of its own)
    const text = String(await summary.textContent()).replace(/\s+/g, ' ');
    assert.ok(text.includes(`Budget left ${percent(slo.budgetRemaining, 1)}`), text);
    assert.ok(
      text.includes(`burn ${burn(slo.burn.fast)} over 1 h and ${burn(slo.burn.slow)} over 6 h`),
      text,
    );
    await page.locator('.chart canvas').nth(1).waitFor();
    assert.equal(await page.locator('.chart canvas').count(), 2, 'budget and burn-rate charts');
    // the charts end at the values the API gives for now, not at the series' last (older) step
    assert.equal(
      await page.getByRole('img', { name: /^Error budget remaining/ }).getAttribute('aria-label'),
      `Error budget remaining. Latest values: budget remaining: ${slo.budgetRemaining}`,
    );
    assert.equal(
      await page.getByRole('img', { name: /^Burn rate/ }).getAttribute('aria-label'),
      `Burn rate. Latest values: burn rate: ${slo.burn.fast}`,
    );
    const worst = page.getByRole('row', { name: /kiosk-b/ });
    assert.deepEqual(
      (await worst.locator('td').allTextContents()).map((c) => c.trim()),
      ['kiosk-b', percent(slo.worstSites[0]!.budgetRemaining, 1), percent(slo.worstSites[0]!.errorRate, 3)],
    );
    assert.deepEqual(await lowContrast(page), []);
    await shot(page, '08-slo-detail');

    // the site page charts that site's own SLIs, and says their latest values in words
    await worst.getByRole('link', { name: 'kiosk-b' }).click();
    const chart = page.getByRole('img', { name: /^SLIs of kiosk-b/ });
    await chart.waitFor();
    await page.locator('.chart canvas').first().waitFor();
    const slis = await hub.api.siteSlis('kiosk-b', new Date(Date.now() - 6 * 3600_000).toISOString());
    const latest = slis.series.map((x) => `${x.bundle}/${x.name}: ${x.points.at(-1)![1]}`);
    assert.deepEqual([...latest].sort(), ['kiosk/errors_total: 8', 'kiosk/requests_total: 1000']);
    assert.equal(
      await chart.getAttribute('aria-label'),
      `SLIs of kiosk-b. Latest values: ${latest.join('; ')}`,
    );
    await shot(page, '12-site-slis');
    await context.close();
  });

  test('the relays page shows each relay with the sites that come through it and its outbox', async () => {
    // the kiosks call only when a test makes them, so the relay's batch stays the latest the hub heard
    await enrollKiosks();
    const { view } = await createRelay(
      hub.hub.ctx,
      { name: 'test', source: 'test' },
      { name: 'kiosks', selector: { matchLabels: { kiosk: 'yes' } } },
    );
    const status = { connectedSites: 2, outbox: { pending: 7, bytes: 900, dropped: 2 }, feedLagSeconds: 0.5 };
    await ingestRelayBatch(
      hub.hub.ctx,
      { id: view.id, name: view.name, selector: view.selector },
      { items: [], seen: kiosks.map((k) => k.siteId), status },
    );
    await hub.hub.ctx.lastSeen.flush();
    assert.equal((await hub.api.relay('kiosks')).sites, 2);
    const { context, page } = await signedIn(hub.adminToken);
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Relays' }).click();
    const row = page.getByRole('row', { name: /kiosks/ });
    await row.waitFor();
    const cells = (await row.locator('td').allTextContents()).map((c) => c.trim());
    assert.deepEqual(cells.slice(0, 2), ['kiosks', 'kiosk=yes']);
    assert.deepEqual(cells.slice(3), ['2', '2', '0.5 s', '7', '2']);
    assert.deepEqual(await unlabelled(page), []);
    assert.deepEqual(await lowContrast(page), []);
    await shot(page, '10-relays');
    await context.close();
  });

  test('the rollout page shows each gate’s value now, its threshold, baseline and verdict', async () => {
    await enrollKiosks();
    const applied = await hub.api.applyBundle(
      kioskBundle('2', {
        waves: [
          { name: 'canary', count: 1 },
          { name: 'rest', percent: 100 },
        ],
        bakeSeconds: 3600,
        gates: [{ metric: 'error_rate', op: '<', threshold: 0.05, compareToBaseline: { maxRatio: 3 } }],
      }),
    );
    assert.ok(applied.rollout, 'the change started a rollout');
    const id = applied.rollout;
    const canary = await eventually('a kiosk to be given revision 2', async () => {
      for (const k of kiosks) if ((await reportReady(k)) === 2) return k;
      return undefined;
    });
    // gates count only buckets begun after the canary started, and buckets are 5 minutes long: the kiosk
    // reports for the next one (the hub takes a site clock up to an hour ahead) rather than wait for it.
    // 3 errors in 1,000 is under 0.05 and within 3× the canary's own rate before it started.
    await postSlis(canary, bucketStart(Date.now()) + bucketMs, 1000, 3);
    // the controller ticks every few seconds; once it has marked the canary Updated, the gate has a value
    const detail = await eventually(
      'the gate to pass on the canary',
      async () => {
        const r = await hub.api.rollout(id);
        return r.gates[0]?.result === 'pass' ? r : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    const gate = detail.gates[0]!;
    assert.equal(gate.observed, 0.003);
    assert.equal(gate.baseline, canary.name === 'kiosk-a' ? 0.002 : 0.008);

    const { context, page } = await signedIn(hub.adminToken);
    await page.goto(`${hub.hub.url}/ui/rollouts/${id}`);
    await page.getByRole('heading', { name: /kiosk: revision 1 → 2/ }).waitFor();
    const row = page.getByTestId('gate-error_rate');
    await row.waitFor();
    assert.deepEqual(
      (await row.locator('th, td').allTextContents()).map((c) => c.trim()),
      ['error_rate', gateValue(gate.observed), '< 0.05', gateValue(gate.baseline), 'pass', gate.reason],
    );
    assert.equal(await row.getByTestId('gate-observed').textContent(), '0.003');
    // the verdict is a word in a coloured badge, not colour alone
    assert.equal(await row.getByTestId('gate-verdict').locator('.badge.tone-healthy').textContent(), 'pass');
    assert.deepEqual(await lowContrast(page), []);
    await shot(page, '07-rollout-gates');
    await context.close();
  });
});
