// The fuzz command: every target (the pure parsers, then a hub's HTTP boundaries) fed up to 100,000
// inputs each, with the counts, times, rejections by code and any failure printed as a table and
// written into docs/reliability.md and bench/results.json (`fuzz-*`).
// Usage: node test/fuzz/run.ts [--runs 100000] [--seconds 600] [--only cel,where] [--jobs 2]
// A failure prints its seed and path: --only <target> --seed=<seed> --path=<path> replays it;
// FUZZ_LOG=1 shows the fuzzed hub's error log (what a 500 was).

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { describeMachine } from '../../bench/machine.ts';
import { appendResults } from '../../bench/results.ts';
import { cell, writeReliabilitySection } from '../support/reliability-doc.ts';
import { type FuzzTarget, perInputLimitMs, runTarget, stallLimitMs, type TargetResult } from './harness.ts';
import { hubTargets } from './hub-targets.ts';
import { parserTargets } from './parser-targets.ts';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '100000' },
    /** a time budget per target: a target stopped by it says so in the table */
    seconds: { type: 'string' },
    only: { type: 'string' },
    seed: { type: 'string' },
    path: { type: 'string' },
    /** targets fuzzed at once, each in its own process (its CPU per input is its own) */
    jobs: { type: 'string', default: '1' },
    /** set on the processes --jobs starts: print each result as one JSON line for the parent */
    child: { type: 'boolean', default: false },
  },
});
const runs = Number(args.runs);
const seconds = args.seconds !== undefined ? Number(args.seconds) : undefined;
const jobs = Number(args.jobs);
const only = args.only?.split(',');
const wanted = (t: FuzzTarget<never>) => !only || only.includes(t.name);
const resultLine = 'fuzz-result ';

const started = new Date();
const results: TargetResult[] = [];
const found = new Map<string, readonly string[]>();

function printResult(result: TargetResult) {
  const rate = Math.round((result.inputs / Math.max(result.ms, 1)) * 1000);
  console.log(
    `${result.target.padEnd(16)} ${String(result.inputs).padStart(7)} inputs ${String(result.ms).padStart(8)} ms (${rate}/s, slowest ${result.slowestMs} ms CPU, ${result.slowestWallMs} ms wall) ${result.failure ? 'FAIL' : 'ok'}`,
  );
  if (result.failure)
    console.log(
      `  --seed=${result.seed} --path=${result.failure.path}\n  input: ${result.failure.input}\n  ${result.failure.error}`,
    );
}

async function fuzz(targets: readonly FuzzTarget<never>[]) {
  for (const target of targets.filter(wanted)) {
    const result = await runTarget(target, {
      runs,
      ...(seconds !== undefined ? { seconds } : {}),
      ...(args.seed !== undefined ? { seed: Number(args.seed) } : {}),
      ...(args.path !== undefined ? { path: args.path } : {}),
    });
    results.push(result);
    found.set(target.name, target.found ?? []);
    if (args.child) console.log(`${resultLine}${JSON.stringify(result)}`);
    else printResult(result);
  }
}

/** Each target in a process of its own, `jobs` at a time; the results come back as JSON lines. */
async function fuzzInChildren(targets: readonly FuzzTarget<never>[]) {
  const queue = targets.filter(wanted);
  const passOn = [
    ['--runs', String(runs)],
    seconds !== undefined ? ['--seconds', String(seconds)] : [],
    args.seed !== undefined ? ['--seed', args.seed] : [],
  ].flat();
  const worker = async () => {
    for (let target = queue.shift(); target; target = queue.shift()) {
      found.set(target.name, target.found ?? []);
      const child = spawn(
        process.execPath,
        [import.meta.filename, '--child', '--only', target.name, ...passOn],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let out = '';
      child.stdout.on('data', (chunk) => {
        out += String(chunk);
      });
      const [code] = await once(child, 'exit');
      const line = out.split('\n').find((l) => l.startsWith(resultLine));
      const result: TargetResult = line
        ? JSON.parse(line.slice(resultLine.length))
        : {
            target: target.name,
            covers: target.covers,
            inputs: 0,
            ms: 0,
            slowestMs: 0,
            slowestWallMs: 0,
            rejections: {},
            seed: 0,
            failure: { input: '', error: `its process ended (${code}) without a result:\n${out}`, path: '' },
          };
      results.push(result);
      printResult(result);
    }
  };
  await Promise.all(Array.from({ length: jobs }, worker));
  const order = targets.map((t) => t.name);
  results.sort((a, b) => order.indexOf(a.target) - order.indexOf(b.target));
}

const parserNames = new Set(parserTargets.map((t) => t.name));
const needsHub = !only || only.some((name) => !parserNames.has(name));
if (jobs > 1 && !args.child) {
  // the hub's targets are made with their hub: start one to learn them, and let each child start its own
  const suite = needsHub ? await hubTargets() : undefined;
  await suite?.close();
  await fuzzInChildren([...parserTargets, ...((suite?.targets ?? []) as FuzzTarget<never>[])]);
} else {
  await fuzz(parserTargets);
  if (needsHub) {
    const suite = await hubTargets();
    try {
      await fuzz(suite.targets as FuzzTarget<never>[]);
    } finally {
      await suite.close();
    }
  }
}
if (args.child) process.exit(results.some((r) => r.failure) ? 1 : 0);

const failed = results.filter((r) => r.failure);
const rejectionsCell = (r: TargetResult) =>
  Object.entries(r.rejections)
    .map(([code, n]) => `${code} ${n.toLocaleString('en')}`)
    .join(', ') || 'none';
const table = [
  `Run of \`node test/fuzz/run.ts --runs ${runs}${seconds !== undefined ? ` --seconds ${seconds}` : ''}${jobs > 1 ? ` --jobs ${jobs}` : ''}\` started ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${await describeMachine()}.`,
  `Every input must give a value or a documented rejection (an OutpostError with a 4xx code, or the parser's own error type), never a crash or a 5xx, each within ${perInputLimitMs} ms of CPU (and ${stallLimitMs / 1000} s of wall time: no stall). The load average at the end was ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(', ')}.`,
  '',
  '| target | inputs | time | slowest input: CPU / wall | rejections by code | result | what it feeds | defects it found (fixed, each with a test) |',
  '|---|---:|---:|---:|---|---|---|---|',
  ...results.map((r) => {
    const short = r.inputs < runs && !r.failure ? ` (time budget; ${runs.toLocaleString('en')} asked)` : '';
    const result = r.failure
      ? `**FAIL** (seed ${r.seed}): ${cell(r.failure.error.split('\n')[0]!.slice(0, 160))}`
      : 'ok';
    const defects = (found.get(r.target) ?? []).map(cell).join('; ') || '—';
    return `| ${r.target} | ${r.inputs.toLocaleString('en')}${short} | ${(r.ms / 1000).toFixed(1)} s | ${r.slowestMs} ms / ${r.slowestWallMs} ms | ${rejectionsCell(r)} | ${result} | ${cell(r.covers)} | ${defects} |`;
  }),
].join('\n');
console.log(`\n${table}`);
if (!only) {
  await writeReliabilitySection('fuzz', table);
  await appendResults(
    results.flatMap((r) => [
      { name: `fuzz-${r.target}-inputs`, value: r.inputs, unit: 'inputs', target: runs, op: '>=' as const },
      {
        name: `fuzz-${r.target}-slowest-cpu-ms`,
        value: r.slowestMs,
        unit: 'ms',
        target: perInputLimitMs,
        op: '<=' as const,
      },
    ]),
  );
}
process.exitCode = failed.length > 0 ? 1 : 0;
