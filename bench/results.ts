// The benchmarks' machine-readable record: bench/results.json, a JSON array that every benchmark appends
// its headline figures to, each with its target, commit, date, machine and load average, so a figure can
// be compared over time and read with the load it was measured under. RESULTS.md keeps the prose.

import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { resolve } from 'node:path';
import { gitCommit, machineName } from './machine.ts';

/** One headline figure as a benchmark measured it. */
export interface BenchFigure {
  /** stable, kebab-case: `agent-rss-mib` */
  name: string;
  value: number;
  unit: string;
  /** the figure the design asks for, with `op` saying which side passes (`value op target`) */
  target?: number;
  op?: '<' | '<=' | '>' | '>=';
}

export interface BenchRecord extends BenchFigure {
  commit: string;
  /** ISO time of the measurement */
  date: string;
  machine: string;
  /** the 1, 5 and 15 minute load averages when it was recorded */
  loadavg: [number, number, number];
}

export const resultsFile = resolve(import.meta.dirname, 'results.json');

/**
 * Appends figures to the results file (made as `[]` when missing), one record per line so that
 * benchmarks run on different branches merge.
 * @example await appendResults([{ name: 'agent-rss-mib', value: 68.2, unit: 'MiB', target: 80, op: '<' }])
 */
export async function appendResults(
  figures: readonly BenchFigure[],
  file = resultsFile,
): Promise<BenchRecord[]> {
  let existing: BenchRecord[] = [];
  try {
    existing = JSON.parse(await readFile(file, 'utf8')) as BenchRecord[];
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (!Array.isArray(existing)) throw new Error(`${file} is not a JSON array`);
  const commit = await gitCommit();
  const date = new Date().toISOString();
  const machine = machineName();
  const loadavg = os.loadavg().map((l) => Math.round(l * 100) / 100) as [number, number, number];
  const records = figures.map((f) => ({ ...f, commit, date, machine, loadavg }));
  const all = [...existing, ...records];
  await writeFile(file, `[\n${all.map((r) => `  ${JSON.stringify(r)}`).join(',\n')}\n]\n`);
  return records;
}

export function appendResult(figure: BenchFigure, file = resultsFile): Promise<BenchRecord[]> {
  return appendResults([figure], file);
}

/** A fleet size as record names spell it: 10000 → `10k`, 2500 → `2.5k`, 600 → `600`. */
export function thousands(n: number): string {
  return n >= 1000 ? `${n / 1000}k` : String(n);
}
