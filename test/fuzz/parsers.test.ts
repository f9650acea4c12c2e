// The pure-parser fuzz targets with a few hundred to a few thousand inputs each, in the normal test
// run; `node test/fuzz/run.ts` feeds each 100,000.

import { test } from 'node:test';
import { assertTarget } from './harness.ts';
import { parserTargets } from './parser-targets.ts';

for (const target of parserTargets) {
  test(`${target.name}: ${target.covers}`, { timeout: 60_000 }, () => assertTarget(target));
}
