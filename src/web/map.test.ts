import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { clusterAt, clusterGrid, clusterRadius, clusterTone } from './cluster.ts';
import { clampView, drawableRing, panBy, project, unproject, worldView, zoomAt } from './projection.ts';

test('at zoom 1 the world fills the canvas: corners and centre land where expected', () => {
  assert.deepEqual(project(-180, 90, worldView, 720, 360), [0, 0]);
  assert.deepEqual(project(180, -90, worldView, 720, 360), [720, 360]);
  assert.deepEqual(project(0, 0, worldView, 720, 360), [360, 180]);
});

test('project and unproject are inverses in any view', () => {
  fc.assert(
    fc.property(
      fc.double({ min: -180, max: 180, noNaN: true }),
      fc.double({ min: -90, max: 90, noNaN: true }),
      fc.record({
        lon: fc.double({ min: -180, max: 180, noNaN: true }),
        lat: fc.double({ min: -90, max: 90, noNaN: true }),
        zoom: fc.double({ min: 1, max: 256, noNaN: true }),
      }),
      (lon, lat, view) => {
        const [x, y] = project(lon, lat, view, 1000, 500);
        const [lon2, lat2] = unproject(x, y, view, 1000, 500);
        assert.ok(Math.abs(lon2 - lon) < 1e-6 && Math.abs(lat2 - lat) < 1e-6);
      },
    ),
  );
});

test('zooming at a point keeps that point under the cursor', () => {
  const v = zoomAt(worldView, 4, 200, 100, 800, 400);
  assert.equal(v.zoom, 4);
  const [x, y] = project(...unproject(200, 100, worldView, 800, 400), v, 800, 400);
  assert.ok(Math.abs(x - 200) < 1e-9 && Math.abs(y - 100) < 1e-9);
});

test('views stay in range: zoom between 1 and 256, centre on the globe', () => {
  assert.deepEqual(clampView({ lon: 500, lat: -100, zoom: 0.1 }), { lon: 180, lat: -90, zoom: 1 });
  assert.equal(zoomAt(worldView, 1e9, 0, 0, 100, 50).zoom, 256);
  assert.deepEqual(panBy(worldView, 100, 0, 360), { lon: -100, lat: 0, zoom: 1 });
});

test('clusters account for every point exactly once, with tones counted', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.double({ min: 0, max: 500, noNaN: true }),
          fc.double({ min: 0, max: 300, noNaN: true }),
          fc.integer({ min: 0, max: 3 }),
        ),
      ),
      fc.integer({ min: 1, max: 100 }),
      (points, cell) => {
        const clusters = clusterGrid(
          points.map((p) => p[0]),
          points.map((p) => p[1]),
          points.map((p) => p[2]),
          4,
          cell,
        );
        assert.equal(
          clusters.reduce((n, c) => n + c.count, 0),
          points.length,
        );
        for (const c of clusters)
          assert.equal(
            c.tones.reduce((a, b) => a + b, 0),
            c.count,
          );
        const firsts = new Set(clusters.map((c) => c.first));
        assert.equal(firsts.size, clusters.length);
      },
    ),
  );
});

test('dense points merge into one cluster at its centroid; sparse ones stay apart', () => {
  const dense = clusterGrid([10, 12, 14], [10, 12, 14], [0, 1, 1], 2, 40);
  assert.equal(dense.length, 1);
  assert.deepEqual(
    { x: dense[0]!.x, y: dense[0]!.y, count: dense[0]!.count, tones: dense[0]!.tones },
    { x: 12, y: 12, count: 3, tones: [1, 2] },
  );
  const sparse = clusterGrid([10, 100, 200], [10, 100, 200], [0, 0, 0], 1, 40);
  assert.deepEqual(
    sparse.map((c) => c.count),
    [1, 1, 1],
  );
  assert.deepEqual(
    sparse.map((c) => c.first),
    [0, 1, 2],
  );
});

test('zooming in splits a cluster: the same points at twice the scale make more clusters', () => {
  const xs = Array.from({ length: 200 }, (_, i) => (i * 7919) % 400);
  const ys = Array.from({ length: 200 }, (_, i) => (i * 104729) % 200);
  const tones = xs.map(() => 0);
  const far = clusterGrid(xs, ys, tones, 1, 40).length;
  const near = clusterGrid(
    xs.map((x) => x * 2),
    ys.map((y) => y * 2),
    tones,
    1,
    40,
  ).length;
  assert.ok(near > far, `${near} > ${far}`);
});

test('a cluster takes its most severe tone; hit-testing finds the nearest disc', () => {
  assert.equal(clusterTone({ tones: [0, 3, 5] }), 1);
  assert.equal(clusterTone({ tones: [0, 0, 0] }), 2);
  const clusters = clusterGrid([10, 100], [10, 100], [0, 0], 1, 40);
  assert.equal(clusterAt(clusters, 12, 11, (c) => clusterRadius(c.count))?.first, 0);
  assert.equal(
    clusterAt(clusters, 50, 50, (c) => clusterRadius(c.count)),
    undefined,
  );
  assert.throws(() => clusterGrid([1], [1], [0], 1, 0));
});

test('a ring across the antimeridian is made continuous and drawn once on each side', () => {
  const r = drawableRing([
    [170, 0],
    [-170, 0],
    [-170, 5],
    [170, 5],
    [170, 0],
  ]);
  assert.deepEqual(r.points, [
    [170, 0],
    [190, 0],
    [190, 5],
    [170, 5],
    [170, 0],
  ]);
  assert.deepEqual(r.copies, [0, -360]);
  assert.deepEqual(
    drawableRing([
      [1, 1],
      [2, 2],
      [1, 2],
    ]).copies,
    [0],
  );
});

test('a ring round the south pole is closed along the pole', () => {
  const r = drawableRing([
    [-170, -70],
    [0, -75],
    [170, -70],
    [-175, -72],
  ]);
  assert.deepEqual(r.points.slice(-2), [
    [185, -90],
    [-170, -90],
  ]);
  assert.ok(r.copies.includes(-360));
});
