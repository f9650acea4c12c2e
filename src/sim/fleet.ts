// Many real agents in one process, each with its own simulated cluster, state dir and identity, against
// a real hub: for demos and scale tests. Everything a site is made of (name, labels, coordinates, its
// cluster's decisions) comes from the seed, so one seed replays one fleet.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, type AgentTelemetryOptions, type UpgradeSite } from '../agent/agent.ts';
import { bundleLabel } from '../agent/apply/engine.ts';
import { imagesOf } from '../agent/apply/prepull.ts';
import { Wakeup } from '../base/timing.ts';
import { decodeJoinToken, encodeJoinToken } from '../model/join-token.ts';
import type { Facts } from '../model/wire.ts';
import { type SimulatedAgentVersions, SimulatedUpgrade } from './agent-upgrade.ts';
import { type SimulatedBehaviour, SimulatedCluster } from './cluster.ts';
import { type Link, openLink } from './link.ts';
import { defaultNodeImage, storeNodes } from './nodes.ts';
import { draw, hash32, seededRandom } from './random.ts';
import { simulatedSlis } from './slis.ts';

/** Where a region's stores cluster; a region not listed gets a spot of its own from its name. */
const regionCentres: Record<string, { lat: number; lon: number; timezone: string }> = {
  west: { lat: 34.05, lon: -118.25, timezone: 'America/Los_Angeles' },
  east: { lat: 40.7, lon: -74.0, timezone: 'America/New_York' },
  north: { lat: 44.98, lon: -93.27, timezone: 'America/Chicago' },
  south: { lat: 29.76, lon: -95.37, timezone: 'America/Chicago' },
  'us-east': { lat: 40.7, lon: -74.0, timezone: 'America/New_York' },
  'us-central': { lat: 41.9, lon: -87.6, timezone: 'America/Chicago' },
  'us-west': { lat: 37.8, lon: -122.4, timezone: 'America/Los_Angeles' },
  'eu-west': { lat: 51.5, lon: -0.1, timezone: 'Europe/London' },
  'eu-central': { lat: 50.1, lon: 8.7, timezone: 'Europe/Berlin' },
  'ap-southeast': { lat: 1.35, lon: 103.8, timezone: 'Asia/Singapore' },
  'ap-northeast': { lat: 35.7, lon: 139.7, timezone: 'Asia/Tokyo' },
};

export const defaultRegions = ['us-east', 'us-west', 'eu-central', 'ap-southeast'];

/** How a site's cluster behaves unless told otherwise: a little slow, now and then failing, like life. */
export const lifelikeBehaviour: SimulatedBehaviour = {
  applyLatencyMs: 20,
  readyAfterMs: 5000,
  progressDeadlineMs: 30_000,
  transientFailureRate: 0.01,
  nodeUpgradeMs: 20_000,
};

/** Store formats (as the example fleet repository knows them) and how common each is. */
const formats: Array<[format: string, share: number]> = [
  ['mini', 0.3],
  ['standard', 0.55],
  ['max', 0.15],
];

export interface SimulatedSite {
  name: string;
  machineId: string;
  labels: { region: string; format: string };
  facts: Facts;
}

/** Some sites sit behind links that drop now and then. */
export interface FlapOptions {
  /** share of the sites behind flapping links, in [0, 1] */
  share: number;
  /** how many links those sites are spread over; a link drops for all its sites at once */
  groups: number;
  /** a link stays up this long on average between drops */
  everyMs: number;
  /** and stays down this long */
  downMs: number;
}

/** A region cut off from the hub for a while: every site in it loses its uplink at once. */
export interface Partition {
  region: string;
  /** from the start of the run */
  atMs: number;
  forMs: number;
}

/** How fast the agents work; the defaults suit a demo, tests go faster. */
export interface AgentPace {
  pollWaitSeconds?: number;
  heartbeatMs?: number;
  readinessResyncMs?: number;
  driftCheckMs?: number;
}

export interface FleetOptions {
  /** from `outpost token create`; must allow as many uses as there are sites */
  joinToken: string;
  sites: number;
  seed: number;
  regions?: readonly string[];
  /** each site keeps its state in a directory of its own below this one */
  stateDir: string;
  /** default: lifelikeBehaviour */
  behaviour?: SimulatedBehaviour;
  flaps?: FlapOptions;
  partitions?: readonly Partition[];
  /** run only the sites whose index mod count is index, so several processes share one fleet */
  shard?: { index: number; count: number };
  agent?: AgentPace;
  /**
   * The fleet's clock runs this many times fast (default 1): the agents' pace (heartbeat, readiness
   * resync, drift check), the flaps and the partitions are given in simulated time and run in
   * 1/timeScale of it. Not scaled: the long-poll wait (a change answers it at once, so its length changes
   * nothing a site sees), the simulated clusters' behaviour, and the hub, a real process on real time
   * (give it --stale-after / --offline-after divided by the scale).
   */
  timeScale?: number;
  /**
   * SLIs per bundle from the seeded generator (src/sim/sli.ts), sent through the agent's real telemetry
   * path; a workload running an image containing one of `badImages` fails and slows down requests
   */
  slis?: { intervalMs?: number; flushMs?: number; badImages?: readonly string[] };
  /** the agent release each site runs, and releases it cannot run: agent upgrades (sim/agent-upgrade.ts) */
  agentVersions?: SimulatedAgentVersions;
  /** stores whose last node (an agent node when they have one) never finishes a Kubernetes upgrade */
  failingUpgrades?: readonly string[];
  /** called with the summary so far, every progressEveryMs */
  onProgress?: (summary: FleetSummary) => void;
  progressEveryMs?: number;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

export interface FleetSummary {
  seed: number;
  sites: number;
  /** sites that have heard from the hub */
  registered: number;
  sitesByRegion: Record<string, number>;
  /** each site's deployments, by the state the agent reports */
  deployments: Record<string, number>;
  /** writes the simulated clusters stored, and dry runs they answered */
  applies: number;
  dryRuns: number;
  /** simulated transient API server failures */
  failures: number;
  /** agents whose run ended with an error */
  crashed: number;
  flaps: { sites: number; links: number; cuts: number };
  /**
   * region partitions that happened and the sites they cut off; of those sites, how many have reached
   * the hub since their link returned, and the longest any took to (simulated ms)
   */
  partitions: { cuts: number; sites: number; back: number; backAfterMs: number };
  /** what the agents' outboxes hold: reports made (sequence numbers given out), waiting, dropped */
  reports: { made: number; pending: number; dropped: number };
  /** objects the simulated clusters deleted (prunes: an undeployment shows here) */
  deletes: number;
  elapsedMs: number;
}

function jitter(random: () => number, spread: number): number {
  return (random() * 2 - 1) * spread;
}

/**
 * The sites of a fleet, from the seed alone: names store-0001…, a region (round robin) and format,
 * coordinates scattered around the region's centre, the region's time zone.
 *
 * @example planFleet(3, 7, ['us-east'])[0].name // 'store-0001'
 */
export function planFleet(
  sites: number,
  seed: number,
  regions: readonly string[] = defaultRegions,
): SimulatedSite[] {
  const random = seededRandom(seed);
  const out: SimulatedSite[] = [];
  for (let i = 0; i < sites; i++) {
    const name = `store-${String(i + 1).padStart(4, '0')}`;
    const region = regions[i % regions.length]!;
    const centre = regionCentres[region] ?? {
      lat: (hash32(region) % 120) - 60,
      lon: (hash32(`${region}/lon`) % 340) - 170,
      timezone: 'UTC',
    };
    let pick = random();
    let format = formats[formats.length - 1]![0];
    for (const [f, share] of formats) {
      if (pick < share) {
        format = f;
        break;
      }
      pick -= share;
    }
    const lat = Math.max(-89, Math.min(89, centre.lat + jitter(random, 2.5)));
    const lon = Math.max(-179, Math.min(179, centre.lon + jitter(random, 3.5)));
    out.push({
      name,
      machineId: `sim-${seed}-${name}`,
      labels: { region, format },
      facts: {
        hostname: name,
        kubernetesVersion: defaultNodeImage.kubeletVersion,
        lat: Math.round(lat * 1e4) / 1e4,
        lon: Math.round(lon * 1e4) / 1e4,
        timezone: centre.timezone,
        capacity: { cpu: format === 'max' ? 8 : 4, memory: format === 'mini' ? '8Gi' : '16Gi' },
      },
    });
  }
  return out;
}

/** Cuts a link now and then until the signal aborts, counting the cuts. */
async function flap(
  link: Link,
  opts: FlapOptions,
  random: () => number,
  counter: { cuts: number },
  signal: AbortSignal,
): Promise<void> {
  const wait = new Wakeup();
  while (!signal.aborted) {
    await wait.sleep(opts.everyMs * (0.5 + random()), signal);
    if (signal.aborted) break;
    link.cut();
    counter.cuts++;
    await wait.sleep(opts.downMs, signal);
    link.heal();
  }
}

/**
 * Runs the fleet until `signal` aborts, then stops every agent and returns what happened.
 *
 * @example
 * const summary = await runFleet({ joinToken, sites: 200, seed: 1, stateDir }, AbortSignal.timeout(60_000));
 */
export async function runFleet(opts: FleetOptions, signal: AbortSignal): Promise<FleetSummary> {
  const started = Date.now();
  const scale = opts.timeScale ?? 1;
  const real = (simulatedMs: number) => simulatedMs / scale;
  const token = decodeJoinToken(opts.joinToken);
  if (!token)
    throw new Error('the join token is not valid (expected the text `outpost token create` printed)');
  const shard = opts.shard ?? { index: 0, count: 1 };
  const plan = planFleet(opts.sites, opts.seed, opts.regions).filter(
    (_, i) => i % shard.count === shard.index,
  );
  const flaps = opts.flaps;
  const links: Link[] = [];
  const linkOf = new Map<string, number>();
  const partitioned = new Map<string, Link>();
  for (const p of opts.partitions ?? []) {
    if (!partitioned.has(p.region)) partitioned.set(p.region, await openLink(token.hub));
  }
  if (flaps && flaps.share > 0 && flaps.groups > 0) {
    let next = 0;
    for (const site of plan) {
      if (draw(opts.seed, 'flaps', site.name) >= flaps.share) continue;
      linkOf.set(site.name, next++ % flaps.groups);
    }
    const used = Math.min(flaps.groups, linkOf.size);
    for (let g = 0; g < used; g++) links.push(await openLink(token.hub));
  }

  const hubOf = (site: SimulatedSite): string | undefined => {
    const g = linkOf.get(site.name);
    if (g !== undefined) return links[g]!.url;
    return partitioned.get(site.labels.region)?.url;
  };
  const versions = opts.agentVersions;
  const failing = new Set(opts.failingUpgrades ?? []);
  const sites = plan.map((site) => {
    const hub = hubOf(site);
    const nodes = storeNodes(opts.seed, site.name);
    const cluster = new SimulatedCluster({
      seed: opts.seed,
      name: site.name,
      behaviour: opts.behaviour ?? lifelikeBehaviour,
      nodes,
      ...(failing.has(site.name) ? { failingUpgrade: nodes[nodes.length - 1]!.name } : {}),
    });
    const agent = new Agent({
      joinToken: hub === undefined ? opts.joinToken : encodeJoinToken({ ...token, hub }),
      name: site.name,
      machineId: site.machineId,
      labels: site.labels,
      facts: site.facts,
      stateDir: join(opts.stateDir, site.name),
      cluster,
      localPage: false,
      watch: true,
      pollWaitSeconds: opts.agent?.pollWaitSeconds ?? 30,
      heartbeatMs: real(opts.agent?.heartbeatMs ?? 30_000),
      readinessResyncMs: real(opts.agent?.readinessResyncMs ?? 3000),
      driftCheckMs: real(opts.agent?.driftCheckMs ?? 300_000),
      telemetry: opts.slis ? simulatedTelemetry(opts.seed, site, cluster, opts.slis) : false,
      ...(versions ? { upgrade: (s: UpgradeSite) => new SimulatedUpgrade(s, versions) } : {}),
      log: opts.log && ((m, f) => opts.log?.(m, { site: site.name, ...f })),
    });
    return { site, cluster, agent, crashed: false };
  });

  const flapped = { cuts: 0 };
  const cutOff = { cuts: 0, regions: new Set<string>() };
  /** when each cut-off region's link returned, and when each of its sites first reached the hub after */
  const healedAt = new Map<string, number>();
  const backAt = new Map<string, number>();
  const summary = (): FleetSummary => {
    const deployments: Record<string, number> = {};
    const sitesByRegion: Record<string, number> = {};
    let registered = 0;
    for (const { site, agent } of sites) {
      sitesByRegion[site.labels.region] = (sitesByRegion[site.labels.region] ?? 0) + 1;
      const status = agent.status();
      if (status.hubContact.last !== null) registered++;
      for (const d of status.deployments) deployments[d.state] = (deployments[d.state] ?? 0) + 1;
    }
    const cutSites = sites.filter(
      (s) => !linkOf.has(s.site.name) && cutOff.regions.has(s.site.labels.region),
    );
    let back = 0;
    let backAfterMs = 0;
    for (const s of cutSites) {
      const healed = healedAt.get(s.site.labels.region);
      const at = backAt.get(s.site.name);
      if (healed === undefined || at === undefined) continue;
      back++;
      backAfterMs = Math.max(backAfterMs, (at - healed) * scale);
    }
    const reports = { made: 0, pending: 0, dropped: 0 };
    for (const { agent } of sites) {
      const o = agent.status().outbox;
      reports.made += o.nextSeq - 1;
      reports.pending += o.pending;
      reports.dropped += o.dropped;
    }
    const total = (f: 'applies' | 'dryRuns' | 'failures' | 'deletes') =>
      sites.reduce((n, s) => n + s.cluster.counts[f], 0);
    return {
      seed: opts.seed,
      sites: sites.length,
      registered,
      sitesByRegion: sorted(sitesByRegion),
      deployments: sorted(deployments),
      applies: total('applies'),
      dryRuns: total('dryRuns'),
      failures: total('failures'),
      crashed: sites.filter((s) => s.crashed).length,
      flaps: { sites: linkOf.size, links: links.length, cuts: flapped.cuts },
      partitions: { cuts: cutOff.cuts, sites: cutSites.length, back, backAfterMs: Math.round(backAfterMs) },
      reports,
      deletes: total('deletes'),
      elapsedMs: Date.now() - started,
    };
  };

  const scaled = (f: FlapOptions): FlapOptions => ({
    ...f,
    everyMs: real(f.everyMs),
    downMs: real(f.downMs),
  });
  const flapping = links.map((link, g) =>
    flap(link, scaled(flaps!), seededRandom(hash32(`${opts.seed}/link/${g}`)), flapped, signal),
  );
  const partitioning = (opts.partitions ?? []).map(async (p) => {
    const wait = new Wakeup();
    await wait.sleep(Math.max(0, real(p.atMs) - (Date.now() - started)), signal);
    if (signal.aborted) return;
    const link = partitioned.get(p.region)!;
    link.cut();
    cutOff.cuts++;
    cutOff.regions.add(p.region);
    opts.log?.('partition: region cut off', { region: p.region, forMs: p.forMs });
    await wait.sleep(real(p.forMs), signal);
    link.heal();
    const healed = Date.now();
    healedAt.set(p.region, healed);
    opts.log?.('partition: region back', { region: p.region });
    // each site's first contact after the link returned (a later one overwrites the agent's record)
    const waiting = sites.filter((s) => s.site.labels.region === p.region && !linkOf.has(s.site.name));
    while (!signal.aborted && waiting.some((s) => !backAt.has(s.site.name))) {
      for (const s of waiting) {
        const last = s.agent.status().hubContact.last;
        if (!backAt.has(s.site.name) && last !== null && Date.parse(last) >= healed)
          backAt.set(s.site.name, Date.parse(last));
      }
      await wait.sleep(5, signal);
    }
  });
  const progress = new Wakeup();
  const reporting = (async () => {
    if (!opts.onProgress) return;
    while (!signal.aborted) {
      await progress.sleep(opts.progressEveryMs ?? 5000, signal);
      if (!signal.aborted) opts.onProgress(summary());
    }
  })();
  const running = sites.map(async (s) => {
    await mkdir(join(opts.stateDir, s.site.name), { recursive: true });
    await s.agent.run(signal).catch((e: unknown) => {
      s.crashed = true;
      opts.log?.('agent stopped with an error', { site: s.site.name, error: (e as Error).message });
    });
  });
  await Promise.all([...running, ...flapping, ...partitioning, reporting]);
  await Promise.all([...links, ...partitioned.values()].map((l) => l.close()));
  return summary();
}

function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

/** Sorted keys, so a summary prints and compares the same whichever shard finished first. */
function sorted(counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * One summary for a fleet that ran in several processes (shards of one seed).
 *
 * @example combineSummaries([first, second]).sites // first.sites + second.sites
 */
export function combineSummaries(parts: readonly FleetSummary[]): FleetSummary {
  const out: FleetSummary = {
    seed: parts[0]?.seed ?? 0,
    sites: 0,
    registered: 0,
    sitesByRegion: {},
    deployments: {},
    applies: 0,
    dryRuns: 0,
    failures: 0,
    crashed: 0,
    flaps: { sites: 0, links: 0, cuts: 0 },
    partitions: { cuts: 0, sites: 0, back: 0, backAfterMs: 0 },
    reports: { made: 0, pending: 0, dropped: 0 },
    deletes: 0,
    elapsedMs: 0,
  };
  for (const p of parts) {
    out.sites += p.sites;
    out.registered += p.registered;
    addCounts(out.sitesByRegion, p.sitesByRegion);
    addCounts(out.deployments, p.deployments);
    out.applies += p.applies;
    out.dryRuns += p.dryRuns;
    out.failures += p.failures;
    out.crashed += p.crashed;
    out.flaps.sites += p.flaps.sites;
    out.flaps.links += p.flaps.links;
    out.flaps.cuts += p.flaps.cuts;
    out.partitions.cuts += p.partitions.cuts;
    out.partitions.sites += p.partitions.sites;
    out.partitions.back += p.partitions.back;
    out.partitions.backAfterMs = Math.max(out.partitions.backAfterMs, p.partitions.backAfterMs);
    out.reports.made += p.reports.made;
    out.reports.pending += p.reports.pending;
    out.reports.dropped += p.reports.dropped;
    out.deletes += p.deletes;
    out.elapsedMs = Math.max(out.elapsedMs, p.elapsedMs);
  }
  out.sitesByRegion = sorted(out.sitesByRegion);
  out.deployments = sorted(out.deployments);
  return out;
}

/** The agent's telemetry fed by the SLI generator, judging a release bad by the images it runs. */
function simulatedTelemetry(
  seed: number,
  site: SimulatedSite,
  cluster: SimulatedCluster,
  slis: NonNullable<FleetOptions['slis']>,
): AgentTelemetryOptions {
  const bad = slis.badImages ?? [];
  const runsBadImage = (bundle: string) => {
    if (bad.length === 0) return false;
    const objects = cluster.objects().filter((o) => o.metadata.labels?.[bundleLabel] === bundle);
    return [...imagesOf(objects)].some((image) => bad.some((b) => image.includes(b)));
  };
  const lon = typeof site.facts.lon === 'number' ? site.facts.lon : 0;
  return {
    flushMs: slis.flushMs ?? 30_000,
    events: false,
    sources: [
      simulatedSlis({
        seed,
        site: site.name,
        utcOffsetHours: Math.round(lon / 15),
        intervalMs: slis.intervalMs ?? 30_000,
        isBad: (b) => runsBadImage(b.bundle),
      }),
    ],
  };
}
