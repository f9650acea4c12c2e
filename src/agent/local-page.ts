// The agent's local status page, for staff on site: what runs, which revision, its health, when the hub
// was last heard from and how many reports wait to go up. Read-only, no external assets, served by the
// agent itself so it answers while the hub is unreachable. HTML at /, the same facts at /status.json,
// and the probes a supervisor asks (Kubernetes, the host launcher): /healthz and /readyz.

import http from 'node:http';
import type { LayerUpgrade } from '../model/site-stack.ts';
import type { DeploymentReport } from '../model/wire.ts';
import type { OutboxStats } from './state/outbox.ts';
import type { TelemetryStatus } from './telemetry/site-telemetry.ts';

export interface LocalDeployment extends DeploymentReport {
  revision: number;
  /** the digest applied on the site right now (the last-known-good after a rollback) */
  runningDigest: string | null;
  lastKnownGood: string | null;
}

export interface LocalStatus {
  site: string;
  hub: string;
  /** where the site's calls go now: a regional relay's URL, or the hub's */
  via?: string;
  agentVersion: string;
  startedAt: string;
  hubContact: { last: string | null; reachable: boolean; error: string | null };
  desiredDigest: string | null;
  deployments: LocalDeployment[];
  outbox: OutboxStats;
  /** recent SLIs and events and the telemetry buffer, kept locally so they show while offline */
  telemetry?: TelemetryStatus;
  /** the host layers (OS, Kubernetes) the agent is moving to its profile's versions */
  upgrades?: LayerUpgrade[];
}

/**
 * Whether this run of the agent has proven itself: it loaded its saved state, reached the hub and had a
 * report acknowledged. A new version counts as good only once it is; `reason` says what it still lacks.
 */
export interface Readiness {
  ready: boolean;
  reason: string;
}

export interface LocalPage {
  /** http://host:port the page is served at */
  url: string;
  close(): Promise<void>;
}

/**
 * Serves the page on `bind` ("host:port", port 0 for any) until closed. /healthz answers while the
 * process serves at all (liveness); /readyz answers 200 only when `readiness` says so, else 503 and why.
 * @example const page = await serveLocalPage('127.0.0.1:7071', () => agent.status(), () => agent.readiness());
 */
export async function serveLocalPage(
  bind: string,
  status: () => LocalStatus,
  readiness: () => Readiness,
): Promise<LocalPage> {
  const m = /^(.*):(\d+)$/.exec(bind);
  if (!m) throw new Error(`the local page address is host:port, got "${bind}"`);
  const host = m[1]!.replace(/^\[|\]$/g, '') || '127.0.0.1';
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://local').pathname;
    const send = (code: number, type: string, body: string) => {
      res.writeHead(code, {
        'content-type': type,
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return send(405, 'text/plain; charset=utf-8', 'read-only: GET or HEAD\n');
    }
    if (path === '/status.json')
      return send(200, 'application/json', `${JSON.stringify(status(), null, 2)}\n`);
    if (path === '/') return send(200, 'text/html; charset=utf-8', renderLocalPage(status()));
    if (path === '/healthz') return send(200, 'text/plain; charset=utf-8', 'ok\n');
    if (path === '/readyz') {
      const r = readiness();
      return send(r.ready ? 200 : 503, 'text/plain; charset=utf-8', `${r.reason}\n`);
    }
    return send(404, 'text/plain; charset=utf-8', 'not found: try /, /status.json, /healthz or /readyz\n');
  });
  server.keepAliveTimeout = 2000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(m[2]), host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : Number(m[2]);
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const escapes: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
const esc = (v: unknown) => String(v ?? '').replace(/[&<>"']/g, (c) => escapes[c]!);
const short = (digest: string | null) => (digest ? `${digest.slice(0, 19)}…` : '—');

function ago(iso: string | null, now: number): string {
  if (!iso) return 'never';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

const stateColour: Record<string, string> = {
  Ready: '#1a7f37',
  NotReady: '#9a6700',
  Applying: '#0969da',
  Drifted: '#bc4c00',
  Failed: '#cf222e',
};

const sliLabels: Record<string, string> = {
  requests_total: 'requests',
  errors_total: 'errors',
  slow_requests_total: 'slow requests',
  latency_p99_seconds: 'p99 latency (s)',
  saturation: 'saturation',
};

/** Service levels, events and the buffer: all local, so they show with the hub unreachable. */
function renderTelemetry(t: TelemetryStatus, now: number): string {
  const bundles = [...new Set(t.slis.map((s) => s.bundle))];
  const names = Object.keys(sliLabels);
  const sliRows = bundles
    .map((b) => {
      const cells = names.map((n) => {
        const s = t.slis.find((x) => x.bundle === b && x.name === n);
        return `<td>${s ? esc(Number(s.v.toPrecision(4))) : '—'}</td>`;
      });
      const last = Math.max(...t.slis.filter((x) => x.bundle === b).map((x) => x.t));
      return `<tr><td>${esc(b)}</td>${cells.join('')}<td>${esc(ago(new Date(last).toISOString(), now))}</td></tr>`;
    })
    .join('\n');
  const events = t.events
    .slice(0, 20)
    .map(
      (e) =>
        `<li><b class="${e.type === 'Warning' ? 'bad' : 'ok'}">${esc(e.type)}</b> ${esc(e.reason)} · ${esc(e.object)}${
          e.bundle ? ` (${esc(e.bundle)})` : ''
        } · ${esc(ago(new Date(e.t).toISOString(), now))}: ${esc(e.message)}${e.count && e.count > 1 ? ` ×${esc(e.count)}` : ''}</li>`,
    )
    .join('\n');
  const b = t.buffer;
  const dropped = b.dropped.sli + b.dropped.event + b.dropped.metric + b.dropped.debug;
  const problems = b.problems.slice(-3).map((p) => `<li>${esc(p.at)}: ${esc(p.message)}</li>`);
  return `<h2>Service levels, last 15 minutes</h2>
<table><thead><tr><th>bundle</th>${names.map((n) => `<th>${esc(sliLabels[n])}</th>`).join('')}<th>measured</th></tr></thead>
<tbody>
${sliRows || `<tr><td colspan="${names.length + 2}">no SLIs measured yet</td></tr>`}
</tbody></table>
<h2>Recent events</h2>
${events ? `<ul>${events}</ul>` : '<p>none</p>'}
<p>Telemetry waiting to be sent: <b>${esc((b.bytes / 1048576).toFixed(1))} MiB</b> of ${esc(
    (b.budgetBytes / 1048576).toFixed(0),
  )} MiB${
    dropped
      ? ` (${esc(dropped)} records dropped: ${esc(
          Object.entries(b.dropped)
            .map(([k, v]) => `${k} ${v}`)
            .join(', '),
        )})`
      : ''
  }${b.diskFullSince ? ` — <span class="bad">the disk is full</span> since ${esc(b.diskFullSince)}` : ''}.</p>
${problems.length ? `<ul>${problems.join('')}</ul>` : ''}`;
}

const layerColour: Record<LayerUpgrade['state'], string> = {
  Conformant: '#1a7f37',
  Upgrading: '#0969da',
  Behind: '#cf222e',
};

/** The OS and Kubernetes upgrades under way here: staff on site see which node holds one up, and why. */
function renderUpgrades(upgrades: readonly LayerUpgrade[], now: number): string {
  const rows = upgrades
    .map(
      (u) => `<tr><td>${esc(u.layer)}</td><td>${esc(u.target)}</td>
<td><b style="color:${layerColour[u.state]}">${esc(u.state)}</b></td>
<td>${u.behind.length ? esc(u.behind.join(', ')) : '—'}</td><td>${esc(ago(u.startedAt, now))}</td><td>${esc(u.detail)}</td></tr>`,
    )
    .join('\n');
  return `<h2>Host layers</h2>
<table><thead><tr><th>layer</th><th>target</th><th>state</th><th>not there yet</th><th>started</th><th>details</th></tr></thead>
<tbody>
${rows}
</tbody></table>
`;
}

/** The page itself; every value from the cluster or the hub is escaped. */
export function renderLocalPage(s: LocalStatus, now = Date.now()): string {
  const contact = s.hubContact.reachable
    ? `<span class="ok">connected</span>, last contact ${esc(ago(s.hubContact.last, now))}`
    : `<span class="bad">unreachable</span> — last contact ${esc(ago(s.hubContact.last, now))}${
        s.hubContact.error ? ` (${esc(s.hubContact.error)})` : ''
      }. The site keeps running what it has.`;
  const rows = s.deployments
    .map((d) => {
      const problems = [
        ...(d.drift ?? []).map((x) => `${x.object} ${x.path}: want ${x.want}, got ${x.got}`),
        ...(d.notReady ?? []).map((n) => `${n.object}: ${n.reason}`),
      ].slice(0, 5);
      return `<tr>
<td>${esc(d.bundle)}</td><td>${esc(d.revision)}</td>
<td><code title="${esc(d.runningDigest)}">${esc(short(d.runningDigest))}</code>${
        d.runningDigest && d.runningDigest !== d.digest
          ? `<br><small>wanted <code title="${esc(d.digest)}">${esc(short(d.digest))}</code></small>`
          : ''
      }</td>
<td><b style="color:${stateColour[d.state] ?? '#000'}">${esc(d.state)}</b></td>
<td>${esc(d.counts.ready)} / ${esc(d.counts.total)}</td>
<td>${esc(d.message)}${problems.length ? `<ul>${problems.map((p) => `<li>${esc(p)}</li>`).join('')}</ul>` : ''}</td>
</tr>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="10">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Outpost site ${esc(s.site)}</title>
<style>
body{font:15px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1f2328}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #d0d7de;padding:.4rem;text-align:left;vertical-align:top}
.ok{color:#1a7f37;font-weight:600}.bad{color:#cf222e;font-weight:600}code{font-size:90%}ul{margin:.2rem 0;padding-left:1.2rem}
</style></head><body>
<h1>Site ${esc(s.site)}</h1>
<p>Hub ${esc(s.hub)}: ${contact}</p>
<p>Reports waiting to be sent: <b>${esc(s.outbox.pending)}</b>${
    s.outbox.dropped ? ` (${esc(s.outbox.dropped)} dropped because the outbox was full)` : ''
  }. Desired state <code>${esc(short(s.desiredDigest))}</code>.</p>
<table><thead><tr><th>bundle</th><th>revision</th><th>running</th><th>state</th><th>ready</th><th>details</th></tr></thead>
<tbody>
${rows || '<tr><td colspan="6">nothing placed on this site yet</td></tr>'}
</tbody></table>
${s.upgrades?.length ? renderUpgrades(s.upgrades, now) : ''}${s.telemetry ? renderTelemetry(s.telemetry, now) : ''}<p><small>Outpost agent ${esc(s.agentVersion)}, up since ${esc(s.startedAt)}. Read-only; this page refreshes every 10 s. Machine-readable: <a href="/status.json">/status.json</a>.</small></p>
</body></html>
`;
}
