import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { type ProfileSpec, parseProfileSpec } from '../../../model/profile.ts';
import type { NodeInfo, SiteStack } from '../../../model/site-stack.ts';
import {
  type ConformanceInput,
  conformanceStates,
  type RunningBundle,
  siteConformance,
} from './conformance.ts';

const since = new Date('2026-12-05T10:00:00Z');
const withinDeadline = new Date('2026-12-05T10:10:00Z');
const pastDeadline = new Date('2026-12-05T11:00:00Z');

function spec(value: Record<string, unknown>): ProfileSpec {
  const parsed = parseProfileSpec({ upgradeDeadlineSeconds: 1800, ...value });
  assert.ok(!('problem' in parsed), JSON.stringify(parsed));
  return parsed;
}

function node(name: string, kubeletVersion: string, osImage = 'Ubuntu 24.04.1 LTS'): NodeInfo {
  return {
    name,
    kubeletVersion,
    containerRuntimeVersion: 'containerd://1.7.23-k3s2',
    osImage,
    kernelVersion: '6.8.0-49-generic',
    architecture: 'amd64',
    controlPlane: name === 'server',
  };
}

const stack = (...nodes: NodeInfo[]): SiteStack => ({ agentVersion: '0.3.0', nodes });
const k3s131 = spec({ kubernetes: { distribution: 'k3s', version: 'v1.31.4+k3s1' } });

function judge(over: Partial<ConformanceInput>) {
  return siteConformance({
    spec: k3s131,
    since,
    stack: undefined,
    bundles: new Map(),
    now: withinDeadline,
    ...over,
  });
}

describe('the kubernetes layer', () => {
  test('every node at the target version is Conformant', () => {
    const result = judge({ stack: stack(node('server', 'v1.31.4+k3s1'), node('agent-1', 'v1.31.4+k3s1')) });
    assert.deepEqual(result, {
      state: 'Conformant',
      layers: [{ layer: 'kubernetes', state: 'Conformant', behind: [], detail: '' }],
    });
  });

  test('a node still on the old version is Upgrading within the deadline and Behind after it, by name', () => {
    const nodes = stack(node('server', 'v1.31.4+k3s1'), node('agent-1', 'v1.30.6+k3s1'));
    assert.equal(judge({ stack: nodes }).state, 'Upgrading');
    const late = judge({ stack: nodes, now: pastDeadline });
    assert.equal(late.state, 'Behind');
    assert.deepEqual(late.layers[0], {
      layer: 'kubernetes',
      state: 'Behind',
      behind: ['agent-1'],
      detail: 'node agent-1 runs v1.30.6+k3s1, the profile wants v1.31.4+k3s1',
    });
  });

  test('a node newer than the profile is Ahead', () => {
    const result = judge({ stack: stack(node('server', 'v1.31.5+k3s1')) });
    assert.equal(result.state, 'Ahead');
    assert.deepEqual(result.layers[0]!.behind, ['server']);
  });

  test('a node two minors behind is Behind at once: no waiting brings it there in one step', () => {
    const result = judge({ stack: stack(node('server', 'v1.31.4+k3s1'), node('old', 'v1.29.1+k3s1')) });
    assert.equal(result.state, 'Behind');
    assert.match(
      result.layers[0]!.detail,
      /^node old: v1.29.1\+k3s1 → v1.31.4\+k3s1 skips a Kubernetes minor/,
    );
  });

  test('a node of another distribution is off the profile', () => {
    const result = judge({ stack: stack(node('server', 'v1.31.4+rke2r1')), now: pastDeadline });
    assert.equal(result.layers[0]!.detail, 'node server runs v1.31.4+rke2r1, not a k3s release');
  });

  test('an agent that gave up on this target makes the layer Behind at once, with its reason', () => {
    const nodes = stack(node('server', 'v1.30.6+k3s1'), node('agent-1', 'v1.30.6+k3s1'));
    const gaveUp = (target: string) => ({
      ...nodes,
      upgrades: [
        {
          layer: 'kubernetes' as const,
          target,
          state: 'Behind' as const,
          behind: ['server', 'agent-1'],
          detail: 'system-upgrade-controller is not installed',
          startedAt: since.toISOString(),
        },
      ],
    });
    assert.deepEqual(judge({ stack: gaveUp('v1.31.4+k3s1') }).layers[0], {
      layer: 'kubernetes',
      state: 'Behind',
      behind: ['server', 'agent-1'],
      detail: 'system-upgrade-controller is not installed',
    });
    // a verdict on an older target says nothing of this one
    assert.equal(judge({ stack: gaveUp('v1.30.6+k3s1') }).state, 'Upgrading');
  });

  test('a site that has not reported its nodes is Unknown', () => {
    assert.deepEqual(judge({}).layers[0], {
      layer: 'kubernetes',
      state: 'Unknown',
      behind: [],
      detail: 'the site has not reported its nodes',
    });
  });
});

describe('the os, agent, addons and apps layers', () => {
  const full = spec({
    os: { image: 'Ubuntu', version: '24.04' },
    agent: { version: '0.3.0' },
    addons: [{ bundle: 'monitoring', revision: 4 }],
    apps: [{ bundle: 'pos' }],
  });
  const ready = (revision: number): RunningBundle => ({ revision, ready: true });

  test('a site running the whole stack is Conformant', () => {
    const result = judge({
      spec: full,
      stack: stack(node('server', 'v1.31.4+k3s1')),
      bundles: new Map([
        ['monitoring', ready(4)],
        ['pos', ready(9)],
      ]),
    });
    assert.equal(result.state, 'Conformant', JSON.stringify(result));
    assert.deepEqual(
      result.layers.map((l) => l.layer),
      ['os', 'agent', 'addons', 'apps'],
    );
  });

  test('each layer off the profile says which and why', () => {
    const result = judge({
      spec: full,
      now: pastDeadline,
      stack: { agentVersion: '0.2.0', nodes: [node('server', 'v1.31.4+k3s1', 'Ubuntu 22.04.5 LTS')] },
      bundles: new Map([['monitoring', ready(3)]]),
    });
    assert.equal(result.state, 'Behind');
    assert.deepEqual(
      result.layers.map((l) => [l.layer, l.state, l.behind, l.detail]),
      [
        ['os', 'Behind', ['server'], 'node server runs "Ubuntu 22.04.5 LTS", the profile wants Ubuntu 24.04'],
        ['agent', 'Behind', ['outpost-agent'], 'the agent runs 0.2.0, the profile wants 0.3.0'],
        ['addons', 'Behind', ['monitoring'], 'monitoring runs revision 3, the profile pins 4'],
        ['apps', 'Behind', ['pos'], 'pos is not placed on the site'],
      ],
    );
  });

  test('a bundle past its pinned revision is Ahead, one not ready is not Conformant', () => {
    const ahead = judge({
      spec: full,
      stack: stack(node('s', 'v1')),
      bundles: new Map([
        ['monitoring', ready(5)],
        ['pos', ready(1)],
      ]),
    });
    assert.equal(ahead.layers.find((l) => l.layer === 'addons')!.state, 'Ahead');
    const notReady = judge({
      spec: full,
      stack: stack(node('s', 'v1')),
      bundles: new Map([
        ['monitoring', ready(4)],
        ['pos', { revision: 2, ready: false }],
      ]),
    });
    assert.equal(notReady.layers.find((l) => l.layer === 'apps')!.state, 'Upgrading');
  });
});

describe('properties', () => {
  const version = fc.record({
    minor: fc.integer({ min: 28, max: 33 }),
    patch: fc.integer({ min: 0, max: 3 }),
  });
  const nodes = fc.array(version, { minLength: 1, maxLength: 6 });

  test('the site state is its worst layer, and Conformant only when every node is at the target', () => {
    fc.assert(
      fc.property(nodes, version, fc.boolean(), (versions, target, late) => {
        const s = spec({
          kubernetes: { distribution: 'k3s', version: `v1.${target.minor}.${target.patch}+k3s1` },
        });
        const result = siteConformance({
          spec: s,
          since,
          now: late ? pastDeadline : withinDeadline,
          bundles: new Map(),
          stack: stack(...versions.map((v, i) => node(`n${i}`, `v1.${v.minor}.${v.patch}+k3s1`))),
        });
        assert.ok(conformanceStates.includes(result.state));
        const allAt = versions.every((v) => v.minor === target.minor && v.patch === target.patch);
        assert.equal(result.state === 'Conformant', allAt);
        const older = versions.some(
          (v) => v.minor < target.minor || (v.minor === target.minor && v.patch < target.patch),
        );
        if (older) assert.ok(result.state === 'Behind' || result.state === 'Upgrading', result.state);
        if (late && older) assert.equal(result.state, 'Behind');
        for (const name of result.layers[0]!.behind) assert.match(name, /^n\d+$/);
      }),
    );
  });
});
