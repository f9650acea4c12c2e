import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultApplyOptions, parseApplyOptions, withApplyDefaults } from './apply-options.ts';

test('ignoreDifferences is kept as written, and left out when absent so older digests stay', () => {
  const rule = { group: 'apps', kind: 'Deployment', jsonPointers: ['/spec/replicas'] };
  const parsed = parseApplyOptions({ ignoreDifferences: [rule] });
  assert.ok(!parsed.problem);
  assert.deepEqual(parsed.options.ignoreDifferences, [rule]);
  assert.equal('ignoreDifferences' in withApplyDefaults(undefined), false);
  const defaults = parseApplyOptions(undefined);
  assert.ok(!defaults.problem);
  assert.deepEqual(defaults.options, { ...defaultApplyOptions });
});

test('each malformed ignoreDifferences entry is named by its path', () => {
  const cases: Array<[unknown, string, RegExp]> = [
    [{ kind: 'Deployment' }, 'ignoreDifferences.0', /jsonPointers, managedFieldsManagers or both/],
    [{ jsonPointers: ['/spec/replicas'] }, 'ignoreDifferences.0.kind', /required/],
    [
      { kind: 'Deployment', jsonPointers: ['spec/replicas'] },
      'ignoreDifferences.0.jsonPointers.0',
      /JSON pointer/,
    ],
    [
      { kind: 'Deployment', jsonPointers: ['/metadata/name'] },
      'ignoreDifferences.0.jsonPointers.0',
      /not the object/,
    ],
    [{ kind: 'Deployment', jsonPointers: ['/a~2b'] }, 'ignoreDifferences.0.jsonPointers.0', /JSON pointer/],
    [
      { kind: 'Deployment', jqPathExpressions: ['.spec'] },
      'ignoreDifferences.0.jqPathExpressions',
      /not supported/,
    ],
    [
      { kind: 'Deployment', managedFieldsManagers: [] },
      'ignoreDifferences.0.managedFieldsManagers',
      /list of field manager/,
    ],
    [{ kind: 'Deployment', jsonPointers: ['/x'], extra: 1 }, 'ignoreDifferences.0.extra', /unknown field/],
  ];
  for (const [entry, path, message] of cases) {
    const { problem } = parseApplyOptions({ ignoreDifferences: [entry] });
    assert.equal(problem?.path, path, JSON.stringify(entry));
    assert.match(problem!.message, message);
  }
  assert.equal(parseApplyOptions({ ignoreDifferences: {} }).problem?.path, 'ignoreDifferences');
});
