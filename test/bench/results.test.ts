import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { appendResult, appendResults } from '../../bench/results.ts';

test('figures are appended to a JSON array, made when missing, one record per line', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-results-'));
  try {
    const file = join(dir, 'results.json');
    await appendResult({ name: 'agent-rss-mib', value: 68.2, unit: 'MiB', target: 80, op: '<' }, file);
    await appendResults([{ name: 'agent-idle-cpu-pct', value: 0.2, unit: '%', target: 1, op: '<' }], file);
    const text = await readFile(file, 'utf8');
    assert.equal(text.split('\n').length, 5, 'the brackets and one line per record');
    const records = JSON.parse(text);
    assert.deepEqual(
      records.map((r: { name: string; value: number }) => [r.name, r.value]),
      [
        ['agent-rss-mib', 68.2],
        ['agent-idle-cpu-pct', 0.2],
      ],
    );
    for (const r of records) {
      assert.match(r.date, /^\d{4}-\d\d-\d\dT/);
      assert.match(r.machine, /cores .* GiB, Node /);
      assert.equal(r.loadavg.length, 3);
      assert.equal(typeof r.commit, 'string');
    }
    await writeFile(file, '{"not": "an array"}');
    await assert.rejects(appendResult({ name: 'x', value: 1, unit: 'ms' }, file), /not a JSON array/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
