import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { ObjectRef } from '../../model/manifest.ts';
import { applyRank, inApplyOrder, inPruneOrder } from './order.ts';

function ref(kind: string, name: string, apiVersion = 'v1'): ObjectRef {
  return { apiVersion, kind, name };
}

function names(refs: readonly ObjectRef[]): string[] {
  return refs.map((r) => `${r.kind}/${r.name}`);
}

const mixed: ObjectRef[] = [
  ref('Widget', 'w1', 'example.com/v1'),
  ref('Deployment', 'till', 'apps/v1'),
  ref('ConfigMap', 'settings'),
  ref('Service', 'till'),
  ref('Namespace', 'shop'),
  ref('CustomResourceDefinition', 'widgets.example.com', 'apiextensions.k8s.io/v1'),
  ref('Secret', 'token'),
  ref('ServiceAccount', 'till'),
];

describe('apply order', () => {
  test('CRDs and Namespaces come before everything else', () => {
    const ordered = names(inApplyOrder(mixed));
    assert.deepEqual(ordered.slice(0, 2), ['CustomResourceDefinition/widgets.example.com', 'Namespace/shop']);
  });

  test('config and identity come before the workloads that use them', () => {
    const ordered = names(inApplyOrder(mixed));
    const at = (n: string) => ordered.indexOf(n);
    assert.ok(at('ServiceAccount/till') < at('Deployment/till'));
    assert.ok(at('Secret/token') < at('Deployment/till'));
    assert.ok(at('ConfigMap/settings') < at('Deployment/till'));
    assert.ok(at('Service/till') < at('Deployment/till'));
  });

  test('custom resources come last, after their CRD is in place', () => {
    const ordered = names(inApplyOrder(mixed));
    assert.equal(ordered.at(-1), 'Widget/w1');
  });

  test('unknown kinds rank after every known kind', () => {
    for (const known of ['CustomResourceDefinition', 'Deployment', 'ValidatingWebhookConfiguration']) {
      assert.ok(applyRank(known) < applyRank('Widget'), known);
    }
    assert.equal(applyRank('Widget'), applyRank('Gadget'));
  });

  test('objects of one kind keep the order they were given in', () => {
    const input = [
      ref('ConfigMap', 'c'),
      ref('Widget', 'z', 'example.com/v1'),
      ref('ConfigMap', 'a'),
      ref('Gadget', 'g', 'example.com/v1'),
      ref('ConfigMap', 'b'),
      ref('Widget', 'y', 'example.com/v1'),
    ];
    assert.deepEqual(names(inApplyOrder(input)), [
      'ConfigMap/c',
      'ConfigMap/a',
      'ConfigMap/b',
      'Widget/z',
      'Gadget/g',
      'Widget/y',
    ]);
  });

  test('the input list is left as it was', () => {
    const input = [ref('Deployment', 'd'), ref('Namespace', 'n')];
    inApplyOrder(input);
    assert.deepEqual(names(input), ['Deployment/d', 'Namespace/n']);
  });

  const kinds = fc.constantFrom(
    'CustomResourceDefinition',
    'Namespace',
    'ConfigMap',
    'Deployment',
    'Service',
    'Job',
    'Widget',
    'Gadget',
  );
  const refs = fc.array(
    fc.record({ kind: kinds, name: fc.string({ maxLength: 3 }), apiVersion: fc.constant('v1') }),
    { maxLength: 20 },
  );

  test('property: apply order is a permutation sorted by rank, stable within a rank', () => {
    fc.assert(
      fc.property(refs, (input) => {
        const tagged = input.map((r, i) => ({ ...r, i }));
        const ordered = inApplyOrder(tagged);
        assert.equal(ordered.length, input.length);
        assert.deepEqual(
          ordered.map((r) => r.i).sort((a, b) => a - b),
          tagged.map((r) => r.i),
        );
        for (let k = 1; k < ordered.length; k++) {
          const prev = ordered[k - 1]!;
          const cur = ordered[k]!;
          const dr = applyRank(prev.kind) - applyRank(cur.kind);
          assert.ok(
            dr < 0 || (dr === 0 && prev.i < cur.i),
            `${prev.kind}#${prev.i} before ${cur.kind}#${cur.i}`,
          );
        }
      }),
    );
  });
});

describe('prune order', () => {
  test('prune order is the reverse of apply order: custom resources first, CRDs and Namespaces last', () => {
    const pruned = names(inPruneOrder(mixed));
    assert.deepEqual(pruned, names(inApplyOrder(mixed)).reverse());
    assert.equal(pruned[0], 'Widget/w1');
    assert.deepEqual(pruned.slice(-2), ['Namespace/shop', 'CustomResourceDefinition/widgets.example.com']);
  });

  test('property: prune order reverses apply order for any list', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            kind: fc.constantFrom('Namespace', 'Secret', 'Pod', 'Widget'),
            name: fc.nat({ max: 50 }).map(String),
            apiVersion: fc.constant('v1'),
          }),
          { maxLength: 15 },
        ),
        (input) => {
          assert.deepEqual(inPruneOrder(input), inApplyOrder(input).reverse());
        },
      ),
    );
  });
});
