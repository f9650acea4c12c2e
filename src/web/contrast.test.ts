import assert from 'node:assert/strict';
import { test } from 'node:test';
import { contrastRatio, over, parseColor } from './contrast.ts';

test('colours parse as browsers report them', () => {
  assert.deepEqual(parseColor('rgb(31, 95, 168)'), [31, 95, 168, 1]);
  assert.deepEqual(parseColor('rgba(0, 0, 0, 0)'), [0, 0, 0, 0]);
  assert.deepEqual(parseColor('rgb(10 20 30 / 50%)'), [10, 20, 30, 0.5]);
  assert.equal(parseColor('transparent'), undefined);
});

test('contrast ratios match the WCAG definition', () => {
  const white = parseColor('rgb(255, 255, 255)')!;
  assert.equal(contrastRatio([0, 0, 0, 1], white), 21);
  assert.equal(contrastRatio(white, white), 1);
  // #767676 on white is the classic just-passing grey (4.54:1)
  assert.ok(Math.abs(contrastRatio([118, 118, 118, 1], white) - 4.54) < 0.01);
  // order does not matter
  assert.equal(contrastRatio(white, [0, 0, 0, 1]), 21);
});

test('translucent text is blended over its background first', () => {
  assert.deepEqual(over([0, 0, 0, 0.5], [255, 255, 255, 1]), [127.5, 127.5, 127.5, 1]);
  assert.ok(contrastRatio([0, 0, 0, 0.5], [255, 255, 255, 1]) < 4.5);
});
