import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { OutpostError } from '../../model/errors.ts';
import { encodeCursor, type Group, pageGroups, planQuery } from './query-plan.ts';

const groupArb = fc.uniqueArray(
  fc.record({
    key: fc.tuple(
      fc.oneof(fc.constantFrom('west', 'east', 'north'), fc.integer({ min: 0, max: 3 }), fc.constant(null)),
    ),
    count: fc.integer({ min: 1, max: 5 }),
    values: fc.record({ 'avg(property:x)': fc.option(fc.integer({ min: 0, max: 9 }), { nil: null }) }),
  }),
  { selector: (g) => JSON.stringify(g.key), maxLength: 14 },
);

describe('planQuery', () => {
  test('a list query defaults to sites sorted by name, 100 a page', () => {
    const plan = planQuery({});
    assert.equal(plan.scope, 'sites');
    assert.deepEqual(plan.sort, { spec: 'name', name: 'name', desc: false, field: { kind: 'name' } });
    assert.equal(plan.limit, 100);
  });

  test('naming a bundle, or grouping by bundle, counts deployments', () => {
    assert.equal(planQuery({ bundle: 'web' }).scope, 'bundle');
    assert.equal(planQuery({ groupBy: ['bundle'] }).scope, 'deployments');
    assert.equal(planQuery({ groupBy: ['revision', 'state'] }).scope, 'deployments');
  });

  test('mistakes are query_invalid with where they are', () => {
    const refuse = (req: object, message: RegExp) =>
      assert.throws(
        () => planQuery(req),
        (e: unknown) => e instanceof OutpostError && e.code === 'query_invalid' && message.test(e.message),
      );
    refuse({ where: { field: 'bundle', op: '=', value: 'web' } }, /name a bundle/);
    refuse({ aggregates: ['count'] }, /need groupBy/);
    refuse({ groupBy: ['state', 'state'] }, /appears twice/);
    refuse(
      { sort: 'lastReport', cursor: encodeCursor({ s: 'name', v: 'a', k: 'x' }) },
      /made for sort "name"/,
    );
  });

  // a grouped cursor's key was JSON.parse'd while paging: a SyntaxError or TypeError, so a 500
  test("a grouped query's cursor must hold a group key of the query's width", () => {
    const refuse = (k: string) =>
      assert.throws(
        () =>
          planQuery({
            groupBy: ['label:region'],
            sort: 'count',
            cursor: encodeCursor({ s: 'count', v: 1, k }),
          }),
        (e: unknown) =>
          e instanceof OutpostError && e.code === 'query_invalid' && /not a cursor/.test(e.message),
        k,
      );
    for (const k of ['', 'x', 'null', '{}', '[]', '["a","b"]', '[{}]', '[true]']) refuse(k);
    assert.ok(
      planQuery({
        groupBy: ['label:region'],
        sort: 'count',
        cursor: encodeCursor({ s: 'count', v: 1, k: '["west"]' }),
      }),
    );
  });
});

describe('pageGroups', () => {
  const sorts = ['key', '-key', 'count', '-count', 'avg(property:x)', '-avg(property:x)'];

  test('property: paging with any limit yields the whole ordered answer once, in order', () => {
    fc.assert(
      fc.property(
        groupArb,
        fc.constantFrom(...sorts),
        fc.integer({ min: 1, max: 5 }),
        (groups, sort, limit) => {
          const req = { groupBy: ['label:region'], aggregates: ['count', 'avg(property:x)'], sort };
          const whole = pageGroups(groups as Group[], planQuery({ ...req, limit: 1000 })).page;
          const paged: Group[] = [];
          let cursor: string | undefined;
          for (let i = 0; i < 100; i++) {
            const { page, next } = pageGroups(
              groups as Group[],
              planQuery({ ...req, limit, ...(cursor ? { cursor } : {}) }),
            );
            paged.push(...page);
            if (!next) break;
            cursor = encodeCursor(next);
          }
          assert.deepEqual(paged, whole);
          assert.equal(whole.length, groups.length);
        },
      ),
    );
  });

  test('groups order like SQLite orders values: null, then numbers, then strings', () => {
    const groups: Group[] = [
      { key: ['west'], count: 1, values: {} },
      { key: [2], count: 1, values: {} },
      { key: [null], count: 1, values: {} },
      { key: [10], count: 1, values: {} },
    ];
    const { page } = pageGroups(groups, planQuery({ groupBy: ['property:x'] }));
    assert.deepEqual(
      page.map((g) => g.key[0]),
      [null, 2, 10, 'west'],
    );
  });
});
