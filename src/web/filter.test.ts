import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseFilter } from './filter.ts';
import { labelList, parseLabelList } from './labels.ts';

test('plain keys are labels, in kubectl selector syntax', () => {
  assert.deepEqual(parseFilter('region=west, format in (mini, max), tier!=gold, !legacy, pos'), {
    filter: {
      selector: {
        matchLabels: { region: 'west' },
        matchExpressions: [
          { key: 'format', operator: 'In', values: ['mini', 'max'] },
          { key: 'tier', operator: 'NotIn', values: ['gold'] },
          { key: 'legacy', operator: 'DoesNotExist' },
          { key: 'pos', operator: 'Exists' },
        ],
      },
    },
  });
});

test('status fields and prefixed keys become a where; numbers compare as numbers', () => {
  assert.deepEqual(parseFilter('connectivity=Offline, property:lanes>=4, revision in (2,3)'), {
    filter: {
      where: {
        all: [
          { field: 'connectivity', op: '=', value: 'Offline' },
          { field: 'property:lanes', op: '>=', value: 4 },
          { field: 'revision', op: 'in', values: [2, 3] },
        ],
      },
    },
  });
  assert.deepEqual(parseFilter('lanes > 2'), {
    filter: { where: { field: 'property:lanes', op: '>', value: 2 } },
  });
});

test('bundle=NAME scopes states to that bundle', () => {
  assert.deepEqual(parseFilter('bundle=pos, state=Failed'), {
    filter: { where: { field: 'state', op: '=', value: 'Failed' }, bundle: 'pos' },
  });
});

test('JSON is taken as a where and checked', () => {
  assert.deepEqual(parseFilter('{"field":"name","op":"=","value":"a"}'), {
    filter: { where: { field: 'name', op: '=', value: 'a' } },
  });
  assert.ok('error' in parseFilter('{"field":"name"'));
  assert.ok('error' in parseFilter('{"field":"nope","op":"=","value":1}'));
});

test('nonsense is an error that names the term, not an empty filter', () => {
  const r = parseFilter('region=west, ???');
  assert.ok('error' in r && r.error.includes('???'));
  assert.ok('error' in parseFilter('lanes > many'));
  assert.ok('error' in parseFilter('region in ()'));
  assert.deepEqual(parseFilter('   '), { filter: {} });
});

test('label lists parse as typed in the approval form and print back the same', () => {
  assert.deepEqual(parseLabelList(' region = west ,format=mini,, '), { region: 'west', format: 'mini' });
  assert.deepEqual(parseLabelList(''), {});
  assert.deepEqual(parseLabelList('empty='), { empty: '' });
  assert.equal(parseLabelList('region'), 'expected key=value, got "region"');
  assert.equal(parseLabelList('=west'), 'expected key=value, got "=west"');
  assert.equal(parseLabelList('a=1, a=2'), 'label a is given twice');
  const labels = { region: 'west', format: 'mini' };
  assert.deepEqual(parseLabelList(labelList(labels)), labels);
});
