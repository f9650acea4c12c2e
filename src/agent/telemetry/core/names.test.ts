import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sliNames, telemetryClasses } from '../../../model/telemetry.ts';
import { classOrder, sli } from './names.ts';

test('the agent’s class order and SLI names are the wire contract’s', () => {
  assert.deepEqual(classOrder, telemetryClasses);
  assert.deepEqual(sli, sliNames);
});
