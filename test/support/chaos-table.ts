// The chaos table of docs/reliability.md as rows keyed by the scenario file that wrote them, so that a
// run of some scenario files replaces their rows and keeps every other file's rows from earlier runs.

/** One row of the table: the scenario file it came from and its markdown line. */
export interface ChaosRow {
  /** the scenario file's name (`hub-killed-reports.test.ts`) */
  file: string;
  scenario: string;
  line: string;
}

export const chaosTableHead = [
  '| scenario | file | runs | what was killed and what was checked | figures | result | run |',
  '|---|---|---:|---|---|---|---|',
];

/** The rows of a chaos table as written by chaosTable (lines of another shape are not rows). */
export function parseChaosRows(markdown: string): ChaosRow[] {
  const rows: ChaosRow[] = [];
  for (const line of markdown.split('\n')) {
    if (!line.startsWith('| ') || chaosTableHead.includes(line)) continue;
    const [scenario, file] = line
      .slice(2)
      .split(' | ', 2)
      .map((c) => c.trim());
    if (scenario && file?.endsWith('.ts')) rows.push({ file, scenario, line });
  }
  return rows;
}

/**
 * The table after a run of `ranFiles`: every earlier row of a file that ran is replaced by that run's
 * rows, the rows of files that did not run stay; sorted by scenario.
 *
 * @example chaosTable(previous, new Set(['clock-skew.test.ts']), rowsOfThisRun)
 */
export function chaosTable(
  previous: readonly ChaosRow[],
  ranFiles: ReadonlySet<string>,
  fresh: readonly ChaosRow[],
): string {
  const rows = [...previous.filter((r) => !ranFiles.has(r.file)), ...fresh].sort(
    (a, b) => a.scenario.localeCompare(b.scenario) || a.file.localeCompare(b.file),
  );
  return [...chaosTableHead, ...rows.map((r) => r.line)].join('\n');
}
