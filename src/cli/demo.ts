// `outpost demo`: the whole product in one command. A hub on embedded SQLite, the example fleet
// repository synced from a local git repository, a few hundred simulated stores (real agents on
// in-memory clusters, in child processes) in four regions, then the story: a good release of the till
// goes out canary first and in waves, a bad one is caught at the canary and rolled back fleet-wide, and
// the stores' k3s goes up a minor region by region until one store's node cannot follow.
// The example's Helm chart and kustomization join when a helm and a kustomize can be found.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import type { Command } from '@commander-js/extra-typings';
import { Wakeup } from '../base/timing.ts';
import { findExecutable } from '../hub/generators/toolbox.ts';
import { dashboardBuilt, dashboardNote } from '../hub/routes/dashboard.ts';
import { OutpostError } from '../model/errors.ts';
import type { ProfileRolloutDetail } from '../model/profile-wire.ts';
import type { FleetStatus, RolloutDetail } from '../model/wire.ts';
import type { SimulatedSite } from '../sim/fleet.ts';
import { storeNodes } from '../sim/nodes.ts';
import { HubApi } from './hub-api.ts';
import { untilSignal } from './long-running.ts';
import { print } from './options.ts';

const exec = promisify(execFile);
const repoRoot = resolve(import.meta.dirname, '..', '..');
const cli = join(repoRoot, 'src', 'cli', 'main.ts');

export const demoRegions = ['west', 'east', 'north', 'south'];
const tillImage = 'registry.example.com/pos/till';
const goodTag = '1.4.3';
/** The release the simulated stores cannot start: its canary fails and the fleet goes back. */
export const badTag = '1.5.0';
/** The k3s the simulated stores run, and the one act 3 moves them to. */
export const k3sFrom = 'v1.31.4+k3s1';
export const k3sTo = 'v1.32.1+k3s1';

export interface DemoOptions {
  dataDir?: string;
  listen: string;
  sites: number;
  seed: number;
  /** child processes the simulated stores run in */
  processes: number;
  /** stop once the story is told, instead of at Ctrl-C */
  exitAfterStory: boolean;
  /** the helm that renders the example chart (default: found as `demoGenerators` says) */
  helm?: string;
  /** the kustomize that builds the example kustomization */
  kustomize?: string;
}

/** Which example bundles a simulated store runs, from its labels and the properties the back office gives it. */
export function expectedPlacement(plan: readonly SimulatedSite[]): Record<string, number> {
  const count = (f: (s: SimulatedSite) => boolean) => plan.filter(f).length;
  return {
    hello: count((s) => s.labels.region === 'west'),
    monitoring: plan.length,
    pos: count((s) => ['mini', 'max'].includes(s.labels.format) && s.name !== 'store-13'),
    'self-checkout': count((s) => ['standard', 'max'].includes(s.labels.format)),
    signage: count((s) => s.labels.region !== undefined),
    scanners: count((s) => s.labels.format === 'mini'),
  };
}

/**
 * The store whose last node cannot take the new k3s: one of the third region's stores (canary first,
 * then regions by name: east, north, …), with more than one node when there is one, so the others move.
 */
export function upgradeFailingStore(plan: readonly SimulatedSite[], seed: number): string | undefined {
  const north = plan.filter((s) => s.labels.region === 'north');
  return (north.find((s) => storeNodes(seed, s.name).length > 1) ?? north[0])?.name;
}

/**
 * The stores' stack as the platform team declares it in the fleet repository: k3s at `version` on every
 * store, a new revision reaching them canary first and then one region at a time, pausing on a failure.
 */
export function storesProfile(version: string): string {
  return `apiVersion: outpost.dev/v1
kind: RolloutStrategy
metadata: {name: stores-by-region}
spec:
  waves: [{name: canary, count: 1}, {groupBy: region}]
  maxConcurrent: 100%
  maxFailures: 0
  bakeSeconds: 5
---
apiVersion: outpost.dev/v1
kind: Profile
metadata: {name: stores}
spec:
  placement: {selector: {matchExpressions: [{key: region, operator: Exists}]}}
  kubernetes: {distribution: k3s, version: ${version}}
  upgradeDeadlineSeconds: 60      # the shortest allowed: a node not there a minute after its store starts is Behind
  rollout: stores-by-region
`;
}

const storesProfilePath = join('fleet', 'stores-profile.yaml');
/** A rollout in one of these phases moves nothing more. */
const rolloutOver = ['Succeeded', 'Failed', 'Aborted', 'Superseded'];

/** The example bundles a tool makes, each with the tool, its pinned version and the flag that names it. */
const generatedExamples = [
  { bundle: 'signage', tool: 'helm', version: 'v4.3.2', what: 'Helm chart', flag: '--helm' },
  { bundle: 'scanners', tool: 'kustomize', version: 'v5.8.2', what: 'kustomization', flag: '--kustomize' },
] as const;

export interface DemoGenerator {
  bundle: string;
  /** the executable, or undefined when none was found and the bundle is left out */
  bin: string | undefined;
  /** what the demo says about it */
  note: string;
}

/**
 * Which generated example bundles the demo runs, and with which executable: the one named by the
 * option, else the one on PATH, else the one scripts/go-tool-fixture.sh built into its cache. A fresh
 * machine has none, and the demo tells its story without them rather than asking for a setup step.
 */
export function demoGenerators(
  named: { helm?: string; kustomize?: string },
  env: NodeJS.ProcessEnv = process.env,
): DemoGenerator[] {
  const cache = env.XDG_CACHE_HOME ?? join(homedir(), '.cache');
  return generatedExamples.map((g) => {
    const given = named[g.tool];
    const bin =
      (given !== undefined ? findExecutable(resolve(given)) : findExecutable(g.tool, env.PATH)) ??
      (given === undefined ? findExecutable(join(cache, 'outpost', g.tool, g.version, g.tool)) : undefined);
    const note = bin
      ? `${g.bundle} (a ${g.what}) is made by ${bin}`
      : `${g.bundle} (a ${g.what}) is left out: ${given ?? `no ${g.tool} on PATH`}${given ? ' is not an executable' : ''}; install ${g.tool} ${g.version.replace(/\..*/, '')} or give demo ${g.flag} PATH`;
    return { bundle: g.bundle, bin, note };
  });
}

function clock(started: number): string {
  const s = Math.floor((Date.now() - started) / 1000);
  return `[${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}]`;
}

async function git(dir: string, ...args: string[]): Promise<string> {
  const { stdout } = await exec(
    'git',
    ['-c', 'user.name=Outpost demo', '-c', 'user.email=demo@outpost.invalid', ...args],
    { cwd: dir },
  );
  return stdout.trim();
}

/**
 * A git repository holding examples/fleet as fleet/, as a team's fleet repository would, less the
 * bundles `leftOut` names (their tool is missing).
 */
async function fleetRepository(dir: string, leftOut: readonly string[]): Promise<string> {
  await mkdir(dir, { recursive: true });
  await git(dir, 'init', '--quiet', '--initial-branch=main');
  const examples = join(repoRoot, 'examples', 'fleet');
  await cp(examples, join(dir, 'fleet'), {
    recursive: true,
    filter: (from) => !leftOut.includes(relative(examples, from).split(sep)[0]!),
  });
  await writeFile(join(dir, storesProfilePath), storesProfile(k3sFrom));
  await git(dir, 'add', '-A');
  await git(dir, 'commit', '--quiet', '-m', 'The example fleet: point of sale, self-checkout, monitoring');
  return git(dir, 'rev-parse', '--short', 'HEAD');
}

/** Commits a new till image tag to the repository, as a developer would. */
async function releaseTill(repo: string, tag: string, message: string): Promise<string> {
  const file = join(repo, 'fleet', 'pos', 'manifests', 'till.yaml');
  const text = await readFile(file, 'utf8');
  await writeFile(file, text.replace(new RegExp(`${tillImage}:[\\w.-]+`), `${tillImage}:${tag}`));
  await git(repo, 'commit', '--quiet', '-am', message);
  return git(repo, 'rev-parse', '--short', 'HEAD');
}

/** Commits the stores' profile at a new k3s version, as the platform team would. */
async function upgradeStores(repo: string, version: string, message: string): Promise<string> {
  await writeFile(join(repo, storesProfilePath), storesProfile(version));
  await git(repo, 'commit', '--quiet', '-am', message);
  return git(repo, 'rev-parse', '--short', 'HEAD');
}

function statesText(states: Record<string, number>): string {
  const entries = Object.entries(states).filter(([, n]) => n > 0);
  return entries.length === 0 ? '-' : entries.map(([s, n]) => `${n} ${s}`).join(', ');
}

function rolloutLine(d: RolloutDetail): string {
  const waves = d.waves
    .map((w) => {
      const done = w.statuses.Updated ?? 0;
      const extra = Object.entries(w.statuses)
        .filter(([s, n]) => n > 0 && !['Updated', 'Waiting'].includes(s))
        .map(([s, n]) => ` ${n} ${s.toLowerCase()}`)
        .join('');
      return `${w.name} ${done}/${w.sites}${extra}`;
    })
    .join(' · ');
  return `${d.bundle} r${d.fromRevision}→r${d.toRevision} ${d.phase.padEnd(11)} wave ${d.wave}: ${waves}${
    d.reason ? ` (${d.reason})` : ''
  }`;
}

function profileRolloutLine(d: ProfileRolloutDetail): string {
  const waves = d.waves
    .map((w) => {
      const extra = Object.entries(w.statuses)
        .filter(([s, n]) => n > 0 && !['Updated', 'Waiting'].includes(s))
        .map(([s, n]) => ` ${n} ${s.toLowerCase()}`)
        .join('');
      return `${w.name} ${w.statuses.Updated ?? 0}/${w.sites}${extra}`;
    })
    .join(' · ');
  return `profile ${d.profile} r${d.fromRevision}→r${d.toRevision} ${d.phase.padEnd(11)} wave ${d.wave}: ${waves}${
    d.reason ? ` (${d.reason})` : ''
  }`;
}

/**
 * The simulated stores, in child processes running `outpost sim`; their chatter is kept and shown only
 * if they stop on their own.
 */
function startStores(
  joinToken: string,
  opts: DemoOptions,
  stateDir: string,
  failingUpgrade: string | undefined,
): ChildProcess[] {
  const children: ChildProcess[] = [];
  const processes = Math.min(opts.processes, opts.sites);
  for (let i = 0; i < processes; i++) {
    const child = spawn(
      process.execPath,
      [
        cli,
        'sim',
        '--sites',
        String(opts.sites),
        '--seed',
        String(opts.seed),
        '--regions',
        demoRegions.join(','),
        '--shard',
        `${i}/${processes}`,
        '--bad-image',
        `${tillImage}:${badTag}`,
        '--failure-rate',
        '0',
        '--ready-after-ms',
        '3000',
        '--progress-deadline-ms',
        '10000',
        '--heartbeat',
        '15',
        // each node takes a few seconds to its new k3s; one store's last node never gets there
        '--node-upgrade-ms',
        '3000',
        ...(failingUpgrade ? ['--failing-upgrade', failingUpgrade] : []),
        // golden signals per bundle through the agents' real telemetry, for the SLO and the site pages
        '--slis',
        '10',
        '--sli-bad-image',
        `${tillImage}:${badTag}`,
        '--state-dir',
        stateDir,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, OUTPOST_JOIN_TOKEN: joinToken } },
    );
    const tail: string[] = [];
    child.stderr?.setEncoding('utf8').on('data', (c: string) => {
      tail.push(c);
      if (tail.length > 20) tail.shift();
    });
    child.once('exit', (code, signal) => {
      if (code !== 0 && signal === null)
        process.stderr.write(`simulated stores (process ${i + 1}) stopped with ${code}:\n${tail.join('')}\n`);
    });
    children.push(child);
  }
  return children;
}

/** The back office: gives each registered store the properties the bundles read (store id, lanes, time zone). */
async function describeStores(
  client: HubApi,
  plan: ReadonlyMap<string, SimulatedSite & { storeId: number }>,
  described: Set<string>,
  signal: AbortSignal,
): Promise<void> {
  const wait = new Wakeup();
  while (!signal.aborted && described.size < plan.size) {
    try {
      for (const site of await client.sites()) {
        const store = plan.get(site.name);
        if (!store || described.has(site.name)) continue;
        if (site.properties?.storeId === undefined) {
          await client.patchSite(site.name, {
            properties: {
              storeId: store.storeId,
              lanes: 1 + (store.storeId % 4),
              timezone: store.facts.timezone,
            },
          });
        }
        described.add(site.name);
      }
    } catch {
      // the hub is busy or stopping; try again on the next round
    }
    await wait.sleep(1000, signal);
  }
}

/** Polls until `check` returns a value, printing `line()` whenever it changes; undefined on timeout. */
async function follow<T>(
  what: { started: number; timeoutMs: number; signal: AbortSignal },
  step: () => Promise<{ line: string; done?: T }>,
): Promise<T | undefined> {
  const wait = new Wakeup();
  const deadline = Date.now() + what.timeoutMs;
  let last = '';
  while (!what.signal.aborted && Date.now() < deadline) {
    try {
      const { line, done } = await step();
      if (line !== last) print(`${clock(what.started)} ${line}`);
      last = line;
      if (done !== undefined) return done;
    } catch (e) {
      print(`${clock(what.started)} (waiting for the hub: ${(e as Error).message})`);
    }
    await wait.sleep(1000, what.signal);
  }
  return undefined;
}

function fleetLine(status: FleetStatus, expected: Record<string, number>, sites: number): string {
  const online = status.sites.byConnectivity.Online ?? 0;
  const bundles = Object.keys(expected)
    .sort()
    .map((name) => {
      const b = status.bundles.find((x) => x.name === name);
      return `${name} ${b?.byState.Ready ?? 0}/${expected[name]} ready`;
    });
  return `stores online ${online}/${sites} · ${bundles.join(' · ')}`;
}

async function waitForRollout(client: HubApi, bundle: string, revision: number, signal: AbortSignal) {
  const wait = new Wakeup();
  for (let i = 0; i < 30 && !signal.aborted; i++) {
    const r = (await client.rollouts(bundle)).find((x) => x.toRevision === revision);
    if (r) return r.id;
    await wait.sleep(500, signal);
  }
  throw new OutpostError('internal', `no rollout of ${bundle} revision ${revision} started`);
}

/**
 * Act 3: the stores' k3s goes up a minor through a profile rollout, canary first and then region by
 * region; the store whose node cannot follow fails its wave and the rollout pauses there, since
 * Kubernetes cannot go back a minor. Resolves true when it paused on that store.
 */
async function upgradeAct(
  client: HubApi,
  repo: string,
  opts: DemoOptions,
  failing: string,
  started: number,
  signal: AbortSignal,
): Promise<boolean> {
  const say = (text: string) => print(`${clock(started)} ${text}`);
  // the profile's first revision must be on every store before the next one, or it would supersede it
  await follow({ started, timeoutMs: 120_000 + opts.sites * 200, signal }, async () => {
    const c = await client.profileConformance('stores');
    const running = (await client.profileRollouts('stores')).some((r) => !rolloutOver.includes(r.phase));
    const line = `stores on k3s ${k3sFrom}: ${statesText(c.counts)}`;
    return { line, done: (!running && c.counts.Conformant === opts.sites) || undefined };
  });
  if (signal.aborted) return false;

  print('');
  say(
    `Act 3: a Kubernetes upgrade. The stores' k3s goes from ${k3sFrom} to ${k3sTo}: canary first, then one region at a time. One store in the north has a node that cannot take it.`,
  );
  const message = `stores: k3s ${k3sTo}`;
  const commit = await upgradeStores(repo, k3sTo, message);
  const synced = await client.syncSource('fleet');
  const revision = (await client.profile('stores')).revision;
  say(
    `git: commit ${commit} "${message}" synced (${synced.status}); profile stores is now revision ${revision}`,
  );
  const wait = new Wakeup();
  let id: string | undefined;
  for (let i = 0; i < 30 && !signal.aborted && !id; i++) {
    id = (await client.profileRollouts('stores')).find((r) => r.toRevision === revision)?.id;
    if (!id) await wait.sleep(500, signal);
  }
  if (!id) throw new OutpostError('internal', `no rollout of profile stores revision ${revision} started`);
  say(`profile rollout ${id} starts: the canary store, then region=east, north, south, west`);
  const end = await follow({ started, timeoutMs: 600_000, signal }, async () => {
    const d = await client.profileRollout(id);
    const over = ['Paused', ...rolloutOver].includes(d.phase);
    return { line: profileRolloutLine(d), done: over ? d : undefined };
  });
  if (!end) return false;
  for (const f of end.failed) say(`${f.site} failed in wave ${f.wave}: ${f.reason}`);
  const stack = await client.siteStack(failing);
  const layer = stack.conformance?.layers.find((l) => l.layer === 'kubernetes');
  if (layer && layer.state !== 'Conformant')
    say(`${failing}: kubernetes ${layer.state}, nodes ${layer.behind.join(', ')}: ${layer.detail}`);
  const paused = end.phase === 'Paused' && end.failed.some((f) => f.site === failing);
  say(
    paused
      ? `the upgrade paused on ${failing}: nothing rolls back (Kubernetes cannot go back a minor); the stores not reached stay on ${k3sFrom} until someone fixes the node and resumes. Dashboard: Profiles → stores, and Rollouts`
      : `the upgrade ended ${end.phase}, not paused on ${failing}`,
  );
  return paused;
}

/**
 * Tells the story; resolves true when the bad release was caught and rolled back and the upgrade paused
 * on the store that could not take it.
 */
async function story(
  client: HubApi,
  repo: string,
  opts: DemoOptions,
  expected: Record<string, number>,
  failing: string | undefined,
  started: number,
  signal: AbortSignal,
): Promise<boolean> {
  const say = (text: string) => print(`${clock(started)} ${text}`);
  const settled = await follow({ started, timeoutMs: 120_000 + opts.sites * 500, signal }, async () => {
    const status = await client.status();
    const ready = Object.entries(expected).every(
      ([name, n]) => status.bundles.find((b) => b.name === name)?.byState.Ready === n,
    );
    return { line: fleetLine(status, expected, opts.sites), done: ready || undefined };
  });
  if (signal.aborted) return false;
  if (!settled) say('the fleet has not settled completely; the story goes on with the stores that have');

  // what the gate saw: the rollout's failed sites, each with the report that failed it (its `failed` event)
  const verdicts = new Set<string>();
  const recordVerdicts = async () => {
    const failedOnSite = (await client.events({ type: 'failed', limit: 50 })).items;
    for (const e of (await client.events({ type: 'rollout_site_failed', limit: 5 })).items) {
      if (!e.site || verdicts.has(e.site)) continue;
      verdicts.add(e.site);
      const report = failedOnSite.find((f) => f.site === e.site && f.bundle === 'pos');
      const why = report?.message.replace(/^pos on \S+ is Failed: /, '') ?? e.message;
      say(`gate (deployment state): ${e.site} reports pos Failed: ${why}`);
    }
  };
  const act = async (tag: string, message: string) => {
    const commit = await releaseTill(repo, tag, message);
    const synced = await client.syncSource('fleet');
    const pos = (await client.bundles()).find((b) => b.name === 'pos')!;
    say(`git: commit ${commit} "${message}" synced (${synced.status}); pos is now revision ${pos.revision}`);
    const id = await waitForRollout(client, 'pos', pos.revision, signal);
    say(`rollout ${id} starts: canary first, then early (25%), then the rest`);
    return follow({ started, timeoutMs: 600_000, signal }, async () => {
      const d = await client.rollout(id);
      if (d.failures > 0 && verdicts.size === 0) await recordVerdicts();
      const over = rolloutOver.includes(d.phase);
      const settledBack =
        d.phase === 'Failed' && d.waves.every((w) => (w.statuses.Updating ?? 0) === 0) ? d : undefined;
      return { line: rolloutLine(d), done: over ? (settledBack ?? d) : undefined };
    });
  };

  print('');
  say(`Act 1: a good release. The till goes to ${goodTag} across the fleet.`);
  const good = await act(goodTag, `pos: till ${goodTag}, faster receipts`);
  if (signal.aborted) return false;
  say(
    good?.phase === 'Succeeded'
      ? `rollout succeeded: every point-of-sale store runs till ${goodTag}`
      : `rollout ended ${good?.phase ?? 'without an answer'}`,
  );

  print('');
  say(`Act 2: a bad release. Till ${badTag} cannot start on the stores' hardware.`);
  const bad = await act(badTag, `pos: till ${badTag}, new payment terminal driver`);
  if (signal.aborted || !bad) return false;
  await recordVerdicts();
  const back = await client.events({ type: 'rollout_rolled_back', limit: 1 });
  for (const e of back.items) say(`verdict: failure budget 0 exceeded → rolled back: ${e.message}`);
  const caught = bad.phase === 'Failed' && back.items.length > 0;
  const settledBack = await follow({ started, timeoutMs: 120_000, signal }, async () => {
    const pos = (await client.status()).bundles.find((b) => b.name === 'pos');
    const line = `pos on the stores: ${statesText(pos?.byState ?? {})} (revision ${bad.fromRevision} is what they run)`;
    return { line, done: pos?.byState.Ready === expected.pos || undefined };
  });
  say(
    caught
      ? `the bad release was caught at the canary and every store is back on revision ${bad.fromRevision}${settledBack ? '' : ' (some stores still settling)'}`
      : `the bad release was not rolled back (phase ${bad.phase})`,
  );
  if (!failing) return caught;
  const paused = await upgradeAct(client, repo, opts, failing, started, signal);
  return caught && paused;
}

export async function runDemo(opts: DemoOptions): Promise<void> {
  const started = Date.now();
  const signal = untilSignal();
  const dataDir = resolve(opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'outpost-demo-'))));
  const { startHub } = await import('../hub/start.ts');
  const { planFleet } = await import('../sim/fleet.ts');
  const generators = demoGenerators(opts);
  const [helm, kustomize] = generators.map((g) => g.bin);
  // the controller steps every second so the story's waves follow each other briskly
  const hub = await startHub({
    dataDir,
    listen: opts.listen,
    rollouts: { tickIntervalMs: 1000 },
    generators: { ...(helm ? { helm } : {}), ...(kustomize ? { kustomize } : {}) },
  });
  const admin = hub.adminToken ?? process.env.OUTPOST_TOKEN;
  if (!admin)
    throw new OutpostError(
      'unauthorized',
      `the data directory ${dataDir} has a hub already; give its admin token in OUTPOST_TOKEN`,
    );
  const client = new HubApi(hub.url, admin, hub.caPem);
  const operator = await client.createApiToken(`demo-operator-${Date.now()}`, 'operator');
  const dashboard = `${hub.url}/ui/`;
  const banner = () => {
    if (dashboardBuilt()) print(`Dashboard:      ${dashboard}   (the hub's CA is ${hub.caFile})`);
    else print(dashboardNote(hub.url));
    print(`Operator token: ${operator.token}   (paste it into the dashboard's sign-in)`);
  };
  print(`Outpost hub on ${hub.url} (SQLite and CA in ${dataDir})`);
  banner();
  print(`CLI: export OUTPOST_HUB=${hub.url} OUTPOST_CA_FILE=${hub.caFile} OUTPOST_TOKEN=${operator.token}`);
  print('');

  const repo = join(dataDir, 'fleet-repo');
  const leftOut = generators.filter((g) => !g.bin).map((g) => g.bundle);
  const commit = await fleetRepository(repo, leftOut);
  await client.addSource({ name: 'fleet', url: repo, ref: 'main', path: 'fleet', intervalSeconds: 10 });
  await client.syncSource('fleet');
  // The hub's poller may sync a new source before this call does, so the bundles are read back rather
  // than taken from what this one sync changed.
  const fromGit = (await client.bundles()).filter((b) => b.source === 'fleet').map((b) => b.name);
  print(
    `${clock(started)} git source "fleet" (${repo}, folder fleet/) synced commit ${commit}: ${fromGit.sort().join(', ')}`,
  );
  for (const g of generators) print(`${clock(started)} ${g.note}`);
  // what the stores' golden signals are held to: the SLO pages and burn-rate alerts have data to show
  for (const [bundle, what] of [
    ['pos', 'checkout'],
    ['self-checkout', 'self-checkout'],
  ] as const) {
    await client.applySlo({
      name: `${bundle}-availability`,
      bundle,
      objective: 0.995,
      window: '7d',
      sli: { kind: 'errors' },
      description: `${what} requests that succeed`,
    });
  }
  print(
    `${clock(started)} SLOs: pos-availability and self-checkout-availability, 99.5% of requests over 7 days`,
  );

  const plan = new Map(
    planFleet(opts.sites, opts.seed, demoRegions).map((s, i) => [s.name, { ...s, storeId: 1001 + i }]),
  );
  const expected = Object.fromEntries(
    Object.entries(expectedPlacement([...plan.values()])).filter(([bundle]) => !leftOut.includes(bundle)),
  );
  const children: ChildProcess[] = [];
  const described = new Set<string>();
  let backOffice: Promise<void> = Promise.resolve();
  let told = false;
  if (opts.sites > 0) {
    const { joinToken } = await client.createBootstrapToken({
      description: 'demo: simulated stores',
      autoApprove: true,
      maxUses: opts.sites,
    });
    print(
      `${clock(started)} ${opts.sites} simulated stores in regions ${demoRegions.join(', ')} connect (real agents on in-memory clusters, ${opts.processes} process${opts.processes > 1 ? 'es' : ''})`,
    );
    const failing = upgradeFailingStore([...plan.values()], opts.seed);
    children.push(...startStores(joinToken, opts, join(dataDir, 'simulated-stores'), failing));
    backOffice = describeStores(client, plan, described, signal);
    told = await story(client, repo, opts, expected, failing, started, signal).catch((e: unknown) => {
      print(`${clock(started)} the story stopped: ${(e as Error).message}`);
      return false;
    });
    print('');
    if (told) print('The story is told. The fleet keeps running; look around:');
  }
  banner();
  print(
    '  ./outpost rollout list   ./outpost status   ./outpost attention   ./outpost events --watch   (with the exports above)',
  );
  if (!opts.exitAfterStory) {
    print('Ctrl-C stops the hub and the stores.');
    await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
  }
  for (const c of children) c.kill('SIGTERM');
  await Promise.all(
    children.map((c) => (c.exitCode !== null ? undefined : new Promise((r) => c.once('exit', r)))),
  );
  // the back office stops with the signal; without one it is done once every store is described
  if (signal.aborted || described.size === plan.size) await backOffice;
  client.close();
  await hub.close();
  if (opts.exitAfterStory && opts.sites > 0 && !told) {
    throw new OutpostError(
      'internal',
      'the demo story did not end with the bad release rolled back and the upgrade paused on the store that could not take it',
    );
  }
}

export function addDemoCommand(root: Command): void {
  root
    .command('demo')
    .description(
      'run a hub with the example fleet from git, a few hundred simulated stores, and a story: a good rollout, a bad one caught and rolled back, and a k3s upgrade region by region that pauses on a store that cannot take it',
    )
    .option('--data-dir <dir>', 'data directory (default: a new temporary one)')
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:7070')
    .option('--sites <n>', 'simulated stores (0 for none)', '300')
    .option('--seed <n>', 'the same seed makes the same stores', '1')
    .option('--processes <n>', 'processes the simulated stores run in', '2')
    .option(
      '--exit-after-story',
      'stop once the story is told (exit 0 if the bad release was rolled back and the upgrade paused), instead of at Ctrl-C',
    )
    .option(
      '--helm <path>',
      'the helm (v4) for the example chart (default: on PATH, else the test fixture’s)',
    )
    .option('--kustomize <path>', 'the kustomize (v5) for the example kustomization (default: likewise)')
    .action(async (opts) => {
      const whole = (text: string, flag: string, min: number) => {
        const n = Number(text);
        if (!Number.isInteger(n) || n < min)
          throw new OutpostError('request_invalid', `${flag} takes a whole number ≥ ${min}, got "${text}"`);
        return n;
      };
      await runDemo({
        dataDir: opts.dataDir,
        listen: opts.listen,
        sites: whole(opts.sites, '--sites', 0),
        seed: whole(opts.seed, '--seed', 0),
        processes: whole(opts.processes, '--processes', 1),
        exitAfterStory: opts.exitAfterStory ?? false,
        ...(opts.helm ? { helm: opts.helm } : {}),
        ...(opts.kustomize ? { kustomize: opts.kustomize } : {}),
      });
    });
}
