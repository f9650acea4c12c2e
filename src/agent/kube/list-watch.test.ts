import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from '../../model/manifest.ts';
import {
  type Cluster,
  ClusterError,
  type ObjectList,
  type WatchEvent,
  type WatchOptions,
} from '../apply/cluster.ts';
import { listAndWatch } from './list-watch.ts';

const cm = (name: string, resourceVersion: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'default', resourceVersion },
});

type WatchScript = Array<WatchEvent | Error>;

/** A cluster that answers lists and watches from scripts, and records what it was asked. */
function scriptedCluster(lists: ObjectList[], watches: WatchScript[], done: () => void) {
  const calls: string[] = [];
  const cluster = {
    async list() {
      const next = lists.shift();
      calls.push(`list -> ${next?.resourceVersion}`);
      if (!next) throw new Error('no more lists scripted');
      return next;
    },
    async *watch(_type: unknown, opts: WatchOptions) {
      calls.push(`watch from ${opts.resourceVersion}`);
      const script = watches.shift();
      if (!script) {
        done();
        return;
      }
      for (const step of script) {
        if (step instanceof Error) throw step;
        yield step;
      }
    },
  } as unknown as Cluster;
  return { cluster, calls };
}

async function run(lists: ObjectList[], watches: WatchScript[]) {
  const ac = new AbortController();
  const { cluster, calls } = scriptedCluster(lists, watches, () => ac.abort());
  const seen: string[] = [];
  await listAndWatch(
    cluster,
    { apiVersion: 'v1', kind: 'ConfigMap' },
    {
      onList: (items) => seen.push(`list ${items.map((i) => i.metadata.name).join(',')}`),
      onEvent: (e) => seen.push(`${e.type} ${e.object.metadata.name}`),
    },
    { labelSelector: 'outpost.dev/bundle', signal: ac.signal, sleep: async () => {}, random: () => 0.5 },
  );
  return { calls, seen };
}

test('lists, then watches from the list version and passes changes on', async () => {
  const { calls, seen } = await run(
    [{ items: [cm('a', '5')], resourceVersion: '10' }],
    [
      [
        { type: 'MODIFIED', object: cm('a', '11') },
        { type: 'ADDED', object: cm('b', '12') },
      ],
    ],
  );
  assert.deepEqual(calls, ['list -> 10', 'watch from 10', 'watch from 12']);
  assert.deepEqual(seen, ['list a', 'MODIFIED a', 'ADDED b']);
});

test('a bookmark moves the version on without being passed on as a change', async () => {
  const bookmark: WatchEvent = {
    type: 'BOOKMARK',
    object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { resourceVersion: '40' } },
  };
  const { calls, seen } = await run([{ items: [], resourceVersion: '10' }], [[bookmark]]);
  assert.deepEqual(calls, ['list -> 10', 'watch from 10', 'watch from 40']);
  assert.deepEqual(seen, ['list ']);
});

test('410 Gone means list again; any other failure means watch again from the last version', async () => {
  const { calls, seen } = await run(
    [
      { items: [cm('a', '5')], resourceVersion: '10' },
      { items: [cm('a', '5'), cm('c', '90')], resourceVersion: '95' },
    ],
    [
      [{ type: 'MODIFIED', object: cm('a', '20') }, new ClusterError('connection refused', 0, 'Transport')],
      [new ClusterError('too old resource version: 20 (80)', 410, 'Expired')],
    ],
  );
  assert.deepEqual(calls, ['list -> 10', 'watch from 10', 'watch from 20', 'list -> 95', 'watch from 95']);
  assert.deepEqual(seen, ['list a', 'MODIFIED a', 'list a,c']);
});

test('a failing list is retried with backoff and never escapes', async () => {
  const ac = new AbortController();
  const delays: number[] = [];
  let lists = 0;
  const cluster = {
    async list() {
      lists++;
      if (lists === 4) ac.abort();
      throw new ClusterError('etcdserver: request timed out', 504);
    },
  } as unknown as Cluster;
  await listAndWatch(
    cluster,
    { apiVersion: 'v1', kind: 'ConfigMap' },
    { onList: () => {}, onEvent: () => {} },
    {
      labelSelector: 'x',
      signal: ac.signal,
      random: () => 1,
      sleep: async (ms) => {
        delays.push(ms);
      },
    },
  );
  assert.equal(lists, 4);
  assert.deepEqual(delays, [500, 1000, 2000]);
});
