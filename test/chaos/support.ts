// What the chaos scenarios share: an `outpost hub` process on a SQLite file that a test kills with
// SIGKILL and starts again on the same data directory, sites enrolled at it over real mTLS, and the
// figures each scenario records for test/chaos/run.ts (docs/reliability.md, bench/results.json).

import { appendFile } from 'node:fs/promises';
import type { BenchFigure } from '../../bench/results.ts';
import { type HubProcess, startHubProcess } from '../../bench/support.ts';
import { decodeJoinToken } from '../../src/model/join-token.ts';
import { HttpClient } from '../../src/net/http-client.ts';
import { enrollAt, type Site, siteAt } from '../support/hub-server.ts';

/** The first admin token, chosen so that a restarted hub (which prints none) takes the same one. */
export const chaosAdminToken = 'oat_00000000-0000-7000-8000-00000000c4a0.chaos-admin-secret';

export interface KillableHub {
  url: string;
  caPem: string;
  dataDir: string;
  /** the operator API as the first admin */
  operator: HttpClient;
  /** SIGKILL: no handler runs, nothing is flushed or closed */
  kill(): Promise<void>;
  /** a graceful stop that leaves the data directory (the next start reuses it) */
  stop(): Promise<void>;
  /** false once the process has exited, by a kill or on its own */
  running(): boolean;
}

function exited(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

async function waitForExit(pid: number): Promise<void> {
  while (!exited(pid)) await new Promise((r) => setTimeout(r, 20));
}

/**
 * Starts `outpost hub` (on a new data directory, one the caller made, or again on the data directory
 * and port of `before`, so that sites find it where it was), with any more `args`, and waits until it
 * listens.
 */
export async function startKillableHub(
  before?: KillableHub,
  opts: { dataDir?: string; args?: string[] } = {},
): Promise<KillableHub> {
  const dataDir = before?.dataDir ?? opts.dataDir;
  const listen = before ? ['--listen', new URL(before.url).host] : [];
  const args = ['--admin-token', chaosAdminToken, ...listen, ...(opts.args ?? [])];
  const hub: HubProcess = await startHubProcess(args, {
    adminToken: chaosAdminToken,
    core: false,
    ...(dataDir ? { dataDir } : {}),
  });
  const operator = new HttpClient(hub.url, { ca: hub.caPem }, () => ({
    authorization: `Bearer ${chaosAdminToken}`,
  }));
  const end = async (signal: NodeJS.Signals) => {
    operator.close();
    if (exited(hub.pid)) return;
    process.kill(hub.pid, signal);
    await waitForExit(hub.pid);
  };
  return {
    url: hub.url,
    caPem: hub.caPem,
    dataDir: hub.dataDir,
    operator,
    kill: () => end('SIGKILL'),
    stop: () => end('SIGTERM'),
    running: () => !exited(hub.pid),
  };
}

/** Enrolls `count` sites named `${prefix}-N` with an auto-approving join token. */
export async function enrollSites(
  hub: KillableHub,
  prefix: string,
  count: number,
  labels: (i: number) => Record<string, string> = () => ({}),
): Promise<Site[]> {
  const r = await hub.operator.request('POST', '/api/v1/bootstrap-tokens', {
    body: { autoApprove: true, maxUses: count },
  });
  if (r.status !== 201) throw new Error(`bootstrap token: ${r.status} ${JSON.stringify(r.body)}`);
  const join = (r.body as { joinToken: string }).joinToken;
  const secret = decodeJoinToken(join)!.token;
  const sites: Site[] = [];
  for (let i = 0; i < count; i++)
    sites.push(await enrollAt(hub.url, hub.caPem, secret, `${prefix}-${i}`, labels(i)));
  return sites;
}

/** The same sites with new clients: their kept-alive connections died with the hub they were open to. */
export function reconnect(sites: readonly Site[], hub: KillableHub): Site[] {
  return sites.map((s) => {
    s.http.close();
    return siteAt(hub.url, hub.caPem, s.siteId, s.name, s.certPem!, s.keyPem);
  });
}

/**
 * One figure a scenario measured; with `target` and `op`, one the scenario checks (`value op target`).
 * bench/results.json gets it as `chaos-<scenario>-<name>`.
 */
export type ChaosFigure = BenchFigure;

export interface ChaosResult {
  scenario: string;
  /** what was killed, when, and what was checked afterwards */
  checked: string;
  figures: ChaosFigure[];
}

/**
 * Records a scenario's figures: printed always, and appended as one JSON line to the file in
 * OUTPOST_CHAOS_RESULTS when test/chaos/run.ts runs the suite.
 */
export async function recordChaos(result: ChaosResult): Promise<void> {
  console.log(
    `chaos ${result.scenario}: ${result.figures.map((f) => `${f.name}=${f.value} ${f.unit}`).join(', ')}`,
  );
  const file = process.env.OUTPOST_CHAOS_RESULTS;
  if (file) await appendFile(file, `${JSON.stringify(result)}\n`);
}
