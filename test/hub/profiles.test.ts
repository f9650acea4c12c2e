// Site profiles at the hub, on the real store: revisions from the API and from a real git repository,
// immutable and refused when they skip a Kubernetes minor (with file and line), placed by bundle rules
// with a doubly matched site refused by both names, and each site's conformance judged from the node
// versions its reports carry — Upgrading until the deadline on the hub's clock, then Behind.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { judgeOverdue } from '../../src/hub/profiles/conformance-kept.ts';
import { tickProfileRollouts } from '../../src/hub/profiles/profile-rollouts.ts';
import type { ProfileConformance } from '../../src/model/profile-wire.ts';
import type { NodeInfo } from '../../src/model/site-stack.ts';
import { createRepo, type GitRepo, tempDir } from '../support/git-server.ts';
import { type HubServer, type Site, startHubServer } from '../support/hub-server.ts';

let hub: HubServer;
let west1: Site;
let seq = 0;

const profile = (
  name: string,
  selector: string,
  kubernetes: string,
  extra = '',
) => `apiVersion: outpost.dev/v1
kind: Profile
metadata: {name: ${name}}
spec:
  placement:
    selector: ${selector}
  kubernetes:
    distribution: k3s
    version: ${kubernetes}
  upgradeDeadlineSeconds: 600
${extra}`;

const node = (name: string, kubeletVersion: string): NodeInfo => ({
  name,
  kubeletVersion,
  containerRuntimeVersion: 'containerd://1.7.23-k3s2',
  osImage: 'Ubuntu 24.04.1 LTS',
  kernelVersion: '6.8.0-49-generic',
  architecture: 'arm64',
  controlPlane: name === 'server',
});

async function report(site: Site, nodes: NodeInfo[]) {
  const r = await site.call('POST', '/agent/v1/sites/:site/report', {
    seq: ++seq,
    deployments: [],
    stack: { agentVersion: '0.3.0', nodes },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

async function apply(content: string, path = 'profiles/west.yaml') {
  return hub.operator('POST', '/api/v1/profiles', { files: [{ path, content }] });
}

async function conformance(name: string): Promise<ProfileConformance> {
  const r = await hub.operator('GET', `/api/v1/profiles/${name}/conformance`);
  assert.equal(r.statusCode, 200, r.body);
  return r.json();
}

before(async () => {
  hub = await startHubServer({ rollouts: { tickIntervalMs: 0 } });
  west1 = await hub.enroll('west-1', { region: 'west', format: 'mini' });
  await hub.enroll('west-2', { region: 'west', format: 'max' });
  await hub.enroll('east-1', { region: 'east' });
});

after(async () => {
  await hub?.close();
});

describe('profiles through the API', () => {
  test('a profile is stored as revision 1 and the same document again changes nothing', async () => {
    const doc = profile('west', '{matchLabels: {region: west}}', 'v1.30.6+k3s1');
    const first = await apply(doc);
    assert.equal(first.statusCode, 200, first.body);
    assert.deepEqual(first.json().items, [{ name: 'west', revision: 1, changed: true }]);
    assert.deepEqual((await apply(doc)).json().items, [{ name: 'west', revision: 1, changed: false }]);
  });

  test('a site that has not reported its nodes is Unknown; one that has is judged per node', async () => {
    let c = await conformance('west');
    assert.deepEqual(
      c.sites.map((s) => [s.site, s.state]),
      [
        ['west-1', 'Unknown'],
        ['west-2', 'Unknown'],
      ],
    );
    await report(west1, [node('server', 'v1.30.6+k3s1'), node('agent-1', 'v1.30.6+k3s1')]);
    c = await conformance('west');
    assert.equal(c.sites.find((s) => s.site === 'west-1')?.state, 'Conformant');
    assert.deepEqual(c.counts, { Conformant: 1, Upgrading: 0, Behind: 0, Ahead: 0, Unknown: 1 });
  });

  test('a new revision one minor up makes sites Upgrading, then Behind with the node that missed the deadline', async () => {
    const next = await apply(profile('west', '{matchLabels: {region: west}}', 'v1.31.4+k3s1'));
    assert.deepEqual(next.json().items, [{ name: 'west', revision: 2, changed: true }]);
    // the revision's rollout (canary first: west-1) gives it to the site
    await tickProfileRollouts(hub.ctx);
    await report(west1, [node('server', 'v1.31.4+k3s1'), node('agent-1', 'v1.30.6+k3s1')]);
    let site = (await conformance('west')).sites.find((s) => s.site === 'west-1')!;
    assert.equal(site.state, 'Upgrading');
    assert.equal(site.revision, 2);
    const kept = async () =>
      (
        (await hub.operator('GET', '/api/v1/profiles')).json().items as Array<{
          name: string;
          counts: Record<string, number>;
        }>
      ).find((p) => p.name === 'west')?.counts;
    assert.equal((await kept())?.Upgrading, 1);
    hub.clock.advance(601_000);
    assert.equal((await kept())?.Behind, 0, 'kept: judged again only when the deadline sweep runs');
    await judgeOverdue(hub.ctx);
    assert.equal((await kept())?.Behind, 1);
    const c = await conformance('west');
    site = c.sites.find((s) => s.site === 'west-1')!;
    assert.equal(site.state, 'Behind');
    assert.deepEqual(site.layers, [
      {
        layer: 'kubernetes',
        state: 'Behind',
        behind: ['agent-1'],
        detail: 'node agent-1 runs v1.30.6+k3s1, the profile wants v1.31.4+k3s1',
      },
    ]);
    assert.equal(c.layers.kubernetes?.Behind, 1);
    await report(west1, [node('server', 'v1.31.4+k3s1'), node('agent-1', 'v1.31.4+k3s1')]);
    assert.equal((await conformance('west')).sites.find((s) => s.site === 'west-1')?.state, 'Conformant');
  });

  test('a revision that skips a minor is refused with file and line, and nothing is stored', async () => {
    const r = await apply(
      profile('west', '{matchLabels: {region: west}}', 'v1.33.0+k3s1'),
      'fleet/west.yaml',
    );
    assert.equal(r.statusCode, 400);
    assert.deepEqual(r.json().error, {
      code: 'bundle_invalid',
      message:
        'Profile west spec.kubernetes.version: v1.31.4+k3s1 → v1.33.0+k3s1 skips a Kubernetes minor version: upgrade to 1.32 first',
      file: 'fleet/west.yaml',
      line: 1,
    });
    const bad = await apply(
      profile('west', '{matchLabels: {region: west}}', 'v1.32.0+rke2r1'),
      'fleet/west.yaml',
    );
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().error.line, 9);
    const detail = (await hub.operator('GET', '/api/v1/profiles/west')).json();
    assert.deepEqual(
      detail.revisions.map((r: { revision: number }) => r.revision),
      [2, 1],
    );
    assert.equal(detail.revisions[1].spec.kubernetes.version, 'v1.30.6+k3s1', 'revision 1 is kept as it was');
  });

  test('a site matched by two profiles follows neither and is named with both', async () => {
    const r = await apply(profile('big-stores', '{matchLabels: {format: max}}', 'v1.31.4+k3s1'), 'big.yaml');
    assert.equal(r.statusCode, 200, r.body);
    const c = await conformance('west');
    assert.deepEqual(
      c.sites.map((s) => s.site),
      ['west-1'],
    );
    assert.deepEqual(c.conflicts, [
      {
        site: 'west-2',
        message:
          'site west-2 is matched by profiles big-stores and west; a site follows one profile: narrow their placement',
      },
    ]);
    assert.deepEqual(
      (await conformance('big-stores')).conflicts.map((x) => x.site),
      ['west-2'],
    );
    const list = (await hub.operator('GET', '/api/v1/profiles')).json().items;
    assert.deepEqual(
      list.map((p: { name: string; revision: number; counts: Record<string, number> }) => [
        p.name,
        p.revision,
        p.counts.Conformant,
      ]),
      [
        ['big-stores', 1, 0],
        ['west', 2, 1],
      ],
    );
  });

  test('a file holding anything but Profile documents is refused by line', async () => {
    const r = await apply('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n', 'mixed.yaml');
    assert.equal(r.statusCode, 400);
    assert.equal(r.json().error.code, 'request_invalid');
    assert.equal(r.json().error.file, 'mixed.yaml');
  });

  test('an unknown profile is 404', async () => {
    assert.equal((await hub.operator('GET', '/api/v1/profiles/nope')).statusCode, 404);
    assert.equal((await hub.operator('GET', '/api/v1/profiles/nope/conformance')).statusCode, 404);
  });

  test('every profile endpoint needs a valid token, and writing needs an operator', async () => {
    const reads = ['/api/v1/profiles', '/api/v1/profiles/west', '/api/v1/profiles/west/conformance'];
    const write = { files: [{ path: 'p.yaml', content: profile('sneaky', '{}', 'v1.31.4+k3s1') }] };
    for (const url of reads) {
      assert.equal((await hub.operator('GET', url, undefined, '')).statusCode, 401, url);
      assert.equal((await hub.operator('GET', url, undefined, 'oat_wrong')).statusCode, 401, url);
    }
    assert.equal((await hub.operator('POST', '/api/v1/profiles', write, '')).statusCode, 401);
    assert.equal((await hub.operator('POST', '/api/v1/profiles', write, 'oat_wrong')).statusCode, 401);
    const viewer = await hub.tokenFor('viewer');
    for (const url of reads)
      assert.equal((await hub.operator('GET', url, undefined, viewer)).statusCode, 200, url);
    assert.equal((await hub.operator('POST', '/api/v1/profiles', write, viewer)).statusCode, 403);
    assert.equal((await hub.operator('GET', '/api/v1/profiles/sneaky')).statusCode, 404);
  });
});

describe('profiles from git', () => {
  let repo: GitRepo;
  let work: { dir: string; remove(): Promise<void> };

  before(async () => {
    work = await tempDir('outpost-profiles-');
    repo = await createRepo(work.dir, 'fleet');
    const r = await hub.operator('POST', '/api/v1/sources', {
      name: 'fleet',
      url: repo.dir,
      ref: 'main',
      intervalSeconds: 3600,
    });
    assert.equal(r.statusCode, 201, r.body);
  });

  after(async () => {
    await work?.remove();
  });

  async function sync() {
    const r = await hub.operator('POST', '/api/v1/sources/fleet/sync');
    assert.equal(r.statusCode, 200, r.body);
    return r.json();
  }

  test('a Profile in the repository is stored as a revision marked with its source and commit', async () => {
    const commit = await repo.commit('east profile', {
      'profiles/east.yaml': profile('east', '{matchLabels: {region: east}}', 'v1.30.6+k3s1'),
    });
    const result = await sync();
    assert.equal(result.status, 'synced', JSON.stringify(result.errors));
    assert.deepEqual(result.documents, { changed: ['Profile/east'], deleted: [] });
    const detail = (await hub.operator('GET', '/api/v1/profiles/east')).json();
    assert.equal(detail.source, 'fleet');
    assert.equal(detail.revisions[0].commit, commit);
    assert.deepEqual(
      (await conformance('east')).sites.map((s) => s.site),
      ['east-1'],
    );
  });

  test('a commit that skips a minor, or takes over an API-made profile, is rejected whole with file and line', async () => {
    await repo.commit('too far, and a clash', {
      'profiles/east.yaml': profile('east', '{matchLabels: {region: east}}', 'v1.32.0+k3s1'),
      'profiles/west.yaml': profile('west', '{matchLabels: {region: west}}', 'v1.31.4+k3s1'),
    });
    const result = await sync();
    assert.equal(result.status, 'rejected');
    const problems = result.errors.map(
      (e: { file?: string; line?: number; message: string }) => `${e.file}:${e.line} ${e.message}`,
    );
    assert.deepEqual(problems.sort(), [
      'profiles/east.yaml:1 Profile east spec.kubernetes.version: v1.30.6+k3s1 → v1.32.0+k3s1 skips a Kubernetes minor version: upgrade to 1.31 first',
      'profiles/west.yaml:1 profile west already comes from the API',
    ]);
    assert.equal((await hub.operator('GET', '/api/v1/profiles/east')).json().revision, 1);
  });

  test('a profile gone from the repository is deleted with its revisions', async () => {
    await repo.commit('no more profiles', { 'profiles/east.yaml': null, 'profiles/west.yaml': null });
    const result = await sync();
    assert.equal(result.status, 'synced', JSON.stringify(result.errors));
    assert.deepEqual(result.documents.deleted, ['Profile/east']);
    assert.equal((await hub.operator('GET', '/api/v1/profiles/east')).statusCode, 404);
  });
});
