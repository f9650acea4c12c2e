import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NodeInfo } from '../../../model/site-stack.ts';
import { kubernetesProgress } from './layer-progress.ts';

const node = (name: string, kubeletVersion: string, controlPlane = false): NodeInfo => ({
  name,
  kubeletVersion,
  containerRuntimeVersion: 'containerd://1.7.23-k3s2',
  osImage: 'Ubuntu 24.04.1 LTS',
  kernelVersion: '6.8.0-49-generic',
  architecture: 'arm64',
  controlPlane,
});

const startedAt = new Date('2026-12-05T10:00:00Z');
const at = (seconds: number) => new Date(startedAt.getTime() + seconds * 1000);
const progress = (nodes: NodeInfo[], seconds: number) =>
  kubernetesProgress({ target: 'v1.31.4+k3s1', nodes, startedAt, deadlineSeconds: 600, now: at(seconds) });

test('nodes short of the target within the deadline are Upgrading, servers named first', () => {
  const p = progress([node('till-a', 'v1.30.6+k3s1'), node('srv', 'v1.30.6+k3s1', true)], 10);
  assert.equal(p.state, 'Upgrading');
  assert.deepEqual(p.behind, ['srv', 'till-a']);
  assert.equal(p.detail, '0 of 2 nodes run v1.31.4+k3s1; next: srv');
});

test('every node at the target, or past it, is Conformant', () => {
  const p = progress([node('srv', 'v1.31.4+k3s1', true), node('till-a', 'v1.31.5+k3s1')], 9999);
  assert.equal(p.state, 'Conformant');
  assert.deepEqual(p.behind, []);
});

test('a node still short at the deadline makes the layer Behind, by name', () => {
  const nodes = [node('srv', 'v1.31.4+k3s1', true), node('till-b', 'v1.30.6+k3s1')];
  assert.equal(progress(nodes, 599).state, 'Upgrading');
  const p = progress(nodes, 600);
  assert.equal(p.state, 'Behind');
  assert.deepEqual(p.behind, ['till-b']);
  assert.match(
    p.detail,
    /^node till-b still runs v1\.30\.6\+k3s1 600 s after the upgrade to v1\.31\.4\+k3s1 began/,
  );
});

test('an older build of the same patch is short; a node with no readable kubelet is too', () => {
  const p = progress([node('srv', 'v1.31.4+k3s0', true), node('new', '')], 1);
  assert.deepEqual(p.behind, ['srv', 'new']);
});

test('a cluster with no node yet is Upgrading, never Conformant', () => {
  assert.equal(progress([], 1).state, 'Upgrading');
});

test('a node two minors back is Behind at once, by name: the Plans would break it, not upgrade it', () => {
  const p = progress([node('srv', 'v1.30.6+k3s1', true), node('old-till', 'v1.29.10+k3s1')], 1);
  assert.equal(p.state, 'Behind');
  assert.deepEqual(p.behind, ['old-till']);
  assert.match(
    p.detail,
    /^node old-till: v1\.29\.10\+k3s1 → v1\.31\.4\+k3s1 skips a Kubernetes minor version/,
  );
});
