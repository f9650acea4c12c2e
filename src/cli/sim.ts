// `outpost sim`: a simulated fleet (real agents on in-memory clusters) against a hub, in this process
// or spread over several child processes, with the cluster's behaviour, bad releases, flapping links
// and region partitions set by flags, and one JSON summary at the end.

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Command, Option } from '@commander-js/extra-typings';
import { OutpostError } from '../model/errors.ts';
import type { SimulatedBehaviour } from '../sim/cluster.ts';
import type { FleetSummary, Partition } from '../sim/fleet.ts';
import { collect, number, rate, splitList } from './arguments.ts';
import { logLine, untilSignal } from './long-running.ts';
import { print } from './options.ts';

/** `IMAGE=RATE`, e.g. `pos/till:1.5.0=0.2`: that image fails on 20% of the sites. */
export function parseImageFailure(text: string): { image: string; rate: number } {
  const i = text.lastIndexOf('=');
  if (i <= 0) throw new OutpostError('request_invalid', `--image-failure takes IMAGE=RATE, got "${text}"`);
  return { image: text.slice(0, i), rate: rate(text.slice(i + 1), '--image-failure') };
}

/** `REGION@START+LENGTH` in seconds from the start, e.g. `west@60+120`. */
export function parsePartition(text: string): Partition {
  const m = /^([^@]+)@(\d+(?:\.\d+)?)\+(\d+(?:\.\d+)?)$/.exec(text);
  if (!m) throw new OutpostError('request_invalid', `--partition takes REGION@START+SECONDS, got "${text}"`);
  return { region: m[1]!, atMs: Number(m[2]) * 1000, forMs: Number(m[3]) * 1000 };
}

/** Runs `outpost sim` again in `count` child processes, each with one shard, and combines their summaries. */
async function runShards(count: number, signal: AbortSignal): Promise<FleetSummary> {
  const { combineSummaries } = await import('../sim/fleet.ts');
  const args = process.argv.slice(1);
  const at = args.indexOf('--processes');
  const own = at >= 0 ? [...args.slice(0, at), ...args.slice(at + 2)] : args;
  const children = Array.from({ length: count }, (_, i) =>
    spawn(process.execPath, [...process.execArgv, ...own, '--shard', `${i}/${count}`], {
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  signal.addEventListener('abort', () => {
    for (const c of children) c.kill('SIGTERM');
  });
  const summaries = await Promise.all(
    children.map(
      (child, i) =>
        new Promise<FleetSummary>((resolve, reject) => {
          let out = '';
          child.stdout.setEncoding('utf8').on('data', (c: string) => {
            out += c;
          });
          child.once('exit', (code) => {
            try {
              if (code !== 0) throw new Error(`exited with ${code}`);
              resolve(JSON.parse(out) as FleetSummary);
            } catch (e) {
              reject(new Error(`simulator process ${i + 1} of ${count}: ${(e as Error).message}`));
            }
          });
        }),
    ),
  );
  return combineSummaries(summaries);
}

export function addSimCommand(root: Command): void {
  root
    .command('sim')
    .description(
      'simulate a fleet: many real agents, each on an in-memory cluster (for demos and scale tests); JSON summary at the end',
    )
    .addOption(
      new Option('--join-token <token>', 'from `outpost token create`, good for as many sites')
        .env('OUTPOST_JOIN_TOKEN')
        .makeOptionMandatory(),
    )
    .requiredOption('--sites <n>', 'how many sites')
    .option('--seed <seed>', 'the same seed makes the same fleet (names, labels, places, failures)', '1')
    .option(
      '--regions <a,b,c>',
      'regions the sites are spread over (default: us-east,us-west,eu-central,ap-southeast)',
    )
    .option('--bad-image <substring>', 'workloads with an image containing this never become available')
    .option(
      '--image-failure <image=rate>',
      'an image that never becomes available on this share of the sites (repeatable), e.g. pos/till:1.5=0.2',
      collect,
      [] as string[],
    )
    .option('--failure-rate <share>', 'share of API writes that fail transiently (503)', '0.01')
    .option('--apply-latency-ms <ms>', 'time each API write takes (jittered by the seed)', '20')
    .option('--ready-after-ms <ms>', 'time a workload takes to become ready (jittered)', '5000')
    .option(
      '--progress-deadline-ms <ms>',
      'time a never-ready Deployment takes to report ProgressDeadlineExceeded',
      '30000',
    )
    .option(
      '--node-upgrade-ms <ms>',
      'time a node takes to move to a new Kubernetes version (jittered)',
      '20000',
    )
    .option(
      '--failing-upgrade <store>',
      'a store whose last node never finishes a Kubernetes upgrade (repeatable)',
      collect,
      [] as string[],
    )
    .option('--flaps <share>', 'share of the sites behind links that drop now and then', '0')
    .option('--flap-links <n>', 'links the flapping sites are spread over', '4')
    .option('--flap-every <seconds>', 'a flapping link drops about this often', '60')
    .option('--flap-down <seconds>', 'and stays down this long', '5')
    .option(
      '--partition <region@start+seconds>',
      'cut a region off from the hub for a while (repeatable), e.g. west@60+120',
      collect,
      [] as string[],
    )
    .option('--heartbeat <seconds>', 'how often each agent reports when nothing changes', '30')
    .option(
      '--slis <seconds>',
      "send each bundle's golden signals from the seeded generator this often, through the agent's real telemetry",
    )
    .option(
      '--sli-bad-image <substring>',
      'a workload running an image containing this fails and slows down requests (repeatable)',
      collect,
      [] as string[],
    )
    .option('--processes <n>', 'spread the sites over this many processes', '1')
    .addOption(new Option('--shard <i/n>', 'run one shard of the fleet (set by --processes)').hideHelp())
    .option('--duration <seconds>', 'stop after this long (default: at Ctrl-C)')
    .option(
      '--state-dir <dir>',
      'where the sites keep their state (default: a temporary one, removed at the end)',
    )
    .action(async (opts) => {
      const sites = number(opts.sites, '--sites', 1);
      if (!Number.isInteger(sites)) throw new OutpostError('request_invalid', '--sites takes a whole number');
      const interrupted = untilSignal();
      const processes = number(opts.processes, '--processes', 1);
      if (processes > 1 && opts.shard === undefined) {
        // Each child runs the --duration it was given from its own start; the parent stops them only when
        // it is interrupted itself, or a child still loading on a busy machine would be killed mid-run.
        print(JSON.stringify(await runShards(Math.floor(processes), interrupted), null, 2));
        return;
      }
      const signal =
        opts.duration === undefined
          ? interrupted
          : AbortSignal.any([
              interrupted,
              AbortSignal.timeout(number(opts.duration, '--duration', 1) * 1000),
            ]);
      const { runFleet } = await import('../sim/fleet.ts');
      const { hash32 } = await import('../sim/random.ts');
      const seed = /^\d+$/.test(opts.seed) ? Number(opts.seed) : hash32(opts.seed);
      const shardMatch = opts.shard ? /^(\d+)\/(\d+)$/.exec(opts.shard) : null;
      const shard = shardMatch ? { index: Number(shardMatch[1]), count: Number(shardMatch[2]) } : undefined;
      const badImage = opts.badImage;
      const behaviour: SimulatedBehaviour = {
        applyLatencyMs: number(opts.applyLatencyMs, '--apply-latency-ms'),
        readyAfterMs: number(opts.readyAfterMs, '--ready-after-ms'),
        progressDeadlineMs: number(opts.progressDeadlineMs, '--progress-deadline-ms'),
        transientFailureRate: rate(opts.failureRate, '--failure-rate'),
        badImage: badImage ? (image) => image.includes(badImage) : undefined,
        imageFailureRates: opts.imageFailure.map(parseImageFailure),
        nodeUpgradeMs: number(opts.nodeUpgradeMs, '--node-upgrade-ms'),
      };
      const flapShare = rate(opts.flaps, '--flaps');
      const stateDir = opts.stateDir ?? (await mkdtemp(join(tmpdir(), 'outpost-sim-')));
      logLine('simulated fleet starting', { sites, seed, stateDir, ...(shard ? { shard: opts.shard } : {}) });
      const heartbeatMs = number(opts.heartbeat, '--heartbeat', 1) * 1000;
      const summary = await runFleet(
        {
          joinToken: opts.joinToken,
          sites,
          seed,
          shard,
          regions: splitList(opts.regions),
          stateDir: shard ? join(stateDir, `shard-${shard.index}`) : stateDir,
          behaviour,
          flaps:
            flapShare > 0
              ? {
                  share: flapShare,
                  groups: number(opts.flapLinks, '--flap-links', 1),
                  everyMs: number(opts.flapEvery, '--flap-every', 1) * 1000,
                  downMs: number(opts.flapDown, '--flap-down') * 1000,
                }
              : undefined,
          partitions: opts.partition.map(parsePartition),
          failingUpgrades: opts.failingUpgrade,
          agent: { heartbeatMs, pollWaitSeconds: 50 },
          ...(opts.slis !== undefined
            ? {
                slis: {
                  intervalMs: number(opts.slis, '--slis', 1) * 1000,
                  flushMs: number(opts.slis, '--slis', 1) * 1000,
                  badImages: opts.sliBadImage,
                },
              }
            : {}),
          onProgress: (s) =>
            logLine('fleet', {
              ...(shard ? { shard: opts.shard } : {}),
              registered: `${s.registered}/${s.sites}`,
              deployments: s.deployments,
            }),
        },
        signal,
      );
      if (opts.stateDir === undefined) await rm(stateDir, { recursive: true, force: true });
      print(JSON.stringify(summary, null, 2));
    });
}
