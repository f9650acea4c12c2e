import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { withApplyDefaults } from '../model/apply-options.ts';
import type { KubeObject } from '../model/manifest.ts';
import { canonicalJson } from './digest.ts';
import { type DesiredEntry, desiredDigest, renderForSite } from './rendered.ts';

function configMap(name: string, data: Record<string, string> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data };
}

function sha256(text: string): string {
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}

describe('renderForSite', () => {
  const input = { bundle: 'pos', namespace: 'shop', objects: [configMap('a', { k: 'v' }), configMap('b')] };

  test('the digest is the sha256 of the content, so the agent can verify the blob it fetched', () => {
    const blob = renderForSite(input);
    assert.equal(blob.digest, sha256(blob.content));
  });

  test('the content is the canonical JSON of the rendered bundle', () => {
    const blob = renderForSite(input);
    assert.equal(blob.content, canonicalJson(blob.rendered));
    assert.deepEqual(JSON.parse(blob.content), {
      bundle: 'pos',
      namespace: 'shop',
      objects: [
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a' }, data: { k: 'v' } },
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'b' }, data: {} },
      ],
    });
  });

  test('unchanged input renders to the same digest', () => {
    const again = { bundle: 'pos', namespace: 'shop', objects: [configMap('a', { k: 'v' }), configMap('b')] };
    assert.equal(renderForSite(again).digest, renderForSite(input).digest);
  });

  test('a change to any object changes the digest', () => {
    const changed = { ...input, objects: [configMap('a', { k: 'w' }), configMap('b')] };
    assert.notEqual(renderForSite(changed).digest, renderForSite(input).digest);
  });

  test('the bundle name and namespace are part of the digest', () => {
    const base = renderForSite(input).digest;
    assert.notEqual(renderForSite({ ...input, bundle: 'pos2' }).digest, base);
    assert.notEqual(renderForSite({ ...input, namespace: 'other' }).digest, base);
  });

  test('the apply options are part of the digest, so changing how a bundle applies reaches the site', () => {
    const options = withApplyDefaults({ readiness: 'Optimistic' });
    const withOptions = renderForSite({ ...input, options });
    assert.deepEqual(withOptions.rendered.options, options);
    assert.notEqual(withOptions.digest, renderForSite(input).digest);
    assert.notEqual(
      renderForSite({ ...input, options: withApplyDefaults({ readiness: 'Pessimistic' }) }).digest,
      withOptions.digest,
    );
  });

  test('object order is part of the digest, since it is the apply order within a kind', () => {
    const swapped = { ...input, objects: [...input.objects].reverse() };
    assert.notEqual(renderForSite(swapped).digest, renderForSite(input).digest);
  });

  test('without a namespace the rendered bundle carries none', () => {
    const blob = renderForSite({ bundle: 'pos', objects: [] });
    assert.ok(!('namespace' in blob.rendered));
    assert.equal(blob.content, '{"bundle":"pos","objects":[]}');
  });

  test('the rendered objects are a copy, so later changes to the input list do not alter the blob', () => {
    const objects = [configMap('a')];
    const blob = renderForSite({ bundle: 'pos', objects });
    objects.push(configMap('late'));
    assert.equal(blob.rendered.objects.length, 1);
  });
});

describe('desiredDigest', () => {
  const d1 = `sha256:${'1'.repeat(64)}`;
  const d2 = `sha256:${'2'.repeat(64)}`;
  const d3 = `sha256:${'3'.repeat(64)}`;

  test('the order of entries does not change the digest', () => {
    assert.equal(
      desiredDigest([
        { bundle: 'a', digest: d1 },
        { bundle: 'b', digest: d2 },
        { bundle: 'c', digest: d3 },
      ]),
      desiredDigest([
        { bundle: 'c', digest: d3 },
        { bundle: 'a', digest: d1 },
        { bundle: 'b', digest: d2 },
      ]),
    );
  });

  test('a changed deployment digest changes the desired digest', () => {
    const before = desiredDigest([
      { bundle: 'a', digest: d1 },
      { bundle: 'b', digest: d2 },
    ]);
    const after = desiredDigest([
      { bundle: 'a', digest: d1 },
      { bundle: 'b', digest: d3 },
    ]);
    assert.notEqual(after, before);
  });

  test('adding or removing a deployment changes the desired digest', () => {
    const one = desiredDigest([{ bundle: 'a', digest: d1 }]);
    const two = desiredDigest([
      { bundle: 'a', digest: d1 },
      { bundle: 'b', digest: d2 },
    ]);
    assert.notEqual(one, two);
    assert.notEqual(desiredDigest([]), one);
  });

  test('a host-layer target is covered: another version is another digest, no target is the old digest', () => {
    const entries = [{ bundle: 'a', digest: d1 }];
    const target = (version: string) => ({
      profile: 'stores',
      revision: 2,
      kubernetes: { distribution: 'k3s' as const, version },
      upgradeDeadlineSeconds: 3600,
    });
    const plain = desiredDigest(entries);
    const v31 = desiredDigest(entries, target('v1.31.4+k3s1'));
    assert.notEqual(v31, plain);
    assert.notEqual(desiredDigest(entries, target('v1.32.1+k3s1')), v31);
    assert.equal(desiredDigest(entries, undefined), plain);
  });

  test('which bundle carries which digest matters, not only the set of digests', () => {
    const a = desiredDigest([
      { bundle: 'a', digest: d1 },
      { bundle: 'b', digest: d2 },
    ]);
    const b = desiredDigest([
      { bundle: 'a', digest: d2 },
      { bundle: 'b', digest: d1 },
    ]);
    assert.notEqual(a, b);
  });

  test('the empty desired state has a stable, well-formed digest', () => {
    assert.equal(desiredDigest([]), desiredDigest([]));
    assert.equal(desiredDigest([]), sha256('[]'));
  });

  const entries = fc.uniqueArray(
    fc.record({
      bundle: fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/),
      digest: fc.stringMatching(/^[0-9a-f]{64}$/).map((h) => `sha256:${h}`),
    }),
    { selector: (e) => e.bundle, maxLength: 8 },
  );

  test('property: any permutation of the entries has the same digest', () => {
    fc.assert(
      fc.property(entries, fc.infiniteStream(fc.nat()), (list: DesiredEntry[], randoms) => {
        const shuffled = [...list];
        for (let i = shuffled.length - 1; i > 0; i--) {
          const j = randoms.next().value % (i + 1);
          [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
        }
        assert.equal(desiredDigest(shuffled), desiredDigest(list));
      }),
    );
  });

  test('property: changing any one entry digest changes the desired digest', () => {
    fc.assert(
      fc.property(
        entries.filter((l) => l.length > 0),
        fc.nat(),
        (list: DesiredEntry[], pick) => {
          const i = pick % list.length;
          const old = list[i]!.digest;
          const flipped = `${old.slice(0, -1)}${old.endsWith('0') ? '1' : '0'}`;
          const changed = list.map((e, k) => (k === i ? { ...e, digest: flipped } : e));
          assert.notEqual(desiredDigest(changed), desiredDigest(list));
        },
      ),
    );
  });
});
