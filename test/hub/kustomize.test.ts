// Kustomize folders built by the real standalone kustomize v5 (built from the Go module proxy by
// scripts/go-tool-fixture.sh): an overlay on a base elsewhere in the repository, with a patch and a
// generated ConfigMap; a missing resource, a bad patch and invalid YAML refused with the file and
// kustomize's message; remote bases refused with file:line unless the hub allows them (then fetched
// by kustomize from a real git server); a base outside the repository refused.

import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { buildKustomization, type KustomizeTool } from '../../src/hub/generators/kustomize.ts';
import { OutpostError } from '../../src/model/errors.ts';
import { createRepo, type GitServer, startGitServer, tempDir } from '../support/git-server.ts';
import { goTool, missingTools, runTool } from '../support/tools.ts';

const skip = missingTools('kustomize');
let work: { dir: string; remove(): Promise<void> };
let kustomize: KustomizeTool;

async function tree(name: string, files: Record<string, string>): Promise<string> {
  const root = join(work.dir, name);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
  return root;
}

const base = {
  'fleet/monitoring/base/kustomization.yaml': 'resources: [agent.yaml]\n',
  'fleet/monitoring/base/agent.yaml': `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: node-agent, namespace: monitoring}
spec:
  selector: {matchLabels: {app: node-agent}}
  template:
    metadata: {labels: {app: node-agent}}
    spec: {containers: [{name: agent, image: registry.example.com/node-agent:2.1.0}]}
`,
};

const westOverlay = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../base
namePrefix: west-
images:
  - {name: registry.example.com/node-agent, newTag: 2.2.0}
configMapGenerator:
  - name: scrape
    namespace: monitoring
    literals: [interval=30s]
patches:
  - target: {kind: DaemonSet, name: node-agent}
    patch: |-
      - op: add
        path: /spec/template/spec/priorityClassName
        value: system-node-critical
`;

async function refusal(promise: Promise<unknown>): Promise<OutpostError> {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof OutpostError, String(e));
    return e;
  }
  assert.fail('kustomize did not refuse the kustomization');
}

before(async () => {
  if (skip) return;
  work = await tempDir('outpost-kustomize-');
  kustomize = {
    bin: goTool('kustomize')!,
    timeoutMs: 60_000,
    maxOutputBytes: 8 << 20,
    allowRemoteBases: false,
  };
});

after(async () => {
  await work?.remove();
});

describe('kustomize build', { skip, timeout: 120_000 }, () => {
  test('the fixture is the standalone kustomize v5', () => {
    assert.match(runTool('kustomize', ['version']), /^v5\./);
  });

  test('builds an overlay on a base elsewhere in the repository', async () => {
    const root = await tree('good', {
      ...base,
      'fleet/monitoring/overlays/west/kustomization.yaml': westOverlay,
    });
    const out = await buildKustomization(kustomize, { root, dir: 'fleet/monitoring/overlays/west' });
    assert.equal(out.path, 'fleet/monitoring/overlays/west/kustomization.yaml');
    const docs = parseAllDocuments(out.content).map((d) => d.toJS());
    const agent = docs.find((d) => d.kind === 'DaemonSet');
    assert.equal(agent.metadata.name, 'west-node-agent');
    assert.equal(agent.spec.template.spec.containers[0].image, 'registry.example.com/node-agent:2.2.0');
    assert.equal(agent.spec.template.spec.priorityClassName, 'system-node-critical');
    const scrape = docs.find((d) => d.kind === 'ConfigMap');
    assert.match(scrape.metadata.name, /^west-scrape-[a-z0-9]+$/);
    assert.deepEqual(scrape.data, { interval: '30s' });
  });

  test('a missing resource is refused with the kustomization and kustomize’s message', async () => {
    const root = await tree('missing', {
      'fleet/app/kustomization.yaml': 'resources: [deployment.yaml, service.yaml]\n',
      'fleet/app/deployment.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n',
    });
    const e = await refusal(buildKustomization(kustomize, { root, dir: 'fleet/app' }));
    assert.equal(e.code, 'bundle_invalid');
    assert.equal(e.location.file, 'fleet/app/kustomization.yaml');
    assert.match(e.message, /kustomize build: .*service\.yaml/);
    assert.doesNotMatch(e.message, new RegExp(work.dir), 'hub paths are not shown');
  });

  test('a missing patch file, a kustomization and a resource that are not YAML are refused', async () => {
    const root = await tree('bad-patch', {
      'fleet/app/kustomization.yaml': 'resources: [cm.yaml]\npatches:\n  - path: missing-patch.yaml\n',
      'fleet/app/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n',
      'fleet/broken/kustomization.yaml': 'resources: [a.yaml\nnamePrefix: x\n',
      'fleet/bad-resource/kustomization.yaml': 'resources: [cm.yaml]\n',
      'fleet/bad-resource/cm.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  a: b\n c: d\n',
    });
    const patch = await refusal(buildKustomization(kustomize, { root, dir: 'fleet/app' }));
    assert.match(patch.message, /missing-patch\.yaml/);
    const yaml = await refusal(buildKustomization(kustomize, { root, dir: 'fleet/broken' }));
    assert.equal(yaml.location.file, 'fleet/broken/kustomization.yaml');
    assert.match(yaml.message, /invalid YAML/);
    const resource = await refusal(buildKustomization(kustomize, { root, dir: 'fleet/bad-resource' }));
    assert.deepEqual(resource.location, { file: 'fleet/bad-resource/cm.yaml', line: 5 });
    assert.match(resource.message, /kustomize build: .*yaml: line 5: did not find expected key/);
  });

  test('a folder without a kustomization is refused', async () => {
    const root = await tree('none', { 'fleet/app/cm.yaml': 'a: 1\n' });
    const e = await refusal(buildKustomization(kustomize, { root, dir: 'fleet/app' }));
    assert.match(e.message, /no kustomization\.yaml in fleet\/app/);
  });

  test('a remote base is refused with its file and line unless the hub allows remote bases', async () => {
    const root = await tree('remote', {
      'fleet/app/kustomization.yaml':
        'namePrefix: x-\nresources:\n  - cm.yaml\n  - https://github.com/example/fleet//base?ref=v1\n',
      'fleet/app/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n',
    });
    const e = await refusal(buildKustomization(kustomize, { root, dir: 'fleet/app', prefix: 'repo' }));
    assert.equal(e.location.file, 'repo/fleet/app/kustomization.yaml');
    assert.equal(e.location.line, 4);
    assert.match(
      e.message,
      /resources\[1\] https:\/\/github\.com\/example\/fleet\/\/base\?ref=v1 is a remote base/,
    );
  });

  test('a base outside the repository is refused', async () => {
    const root = await tree('escape', {
      'fleet/app/kustomization.yaml': 'resources:\n  - ../../../outside\n',
    });
    const e = await refusal(buildKustomization(kustomize, { root, dir: 'fleet/app' }));
    assert.equal(e.location.line, 2);
    assert.match(e.message, /outside the repository/);
  });

  test('with remote bases allowed, kustomize fetches one from a git server itself', async () => {
    const served = join(work.dir, 'served');
    const remoteRepo = await createRepo(served, 'shared.git');
    await remoteRepo.commit('base', {
      'base/kustomization.yaml': 'resources: [cm.yaml]\n',
      'base/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\ndata: {from: remote}\n',
    });
    const server: GitServer = await startGitServer(served);
    try {
      const root = await tree('remote-allowed', {
        'fleet/app/kustomization.yaml': `resources:\n  - ${server.url('shared.git')}//base?ref=main\n`,
      });
      const e = await refusal(buildKustomization(kustomize, { root, dir: 'fleet/app' }));
      assert.match(e.message, /is a remote base/);
      const out = await buildKustomization(
        { ...kustomize, allowRemoteBases: true },
        { root, dir: 'fleet/app' },
      );
      const docs = parseAllDocuments(out.content).map((d) => d.toJS());
      assert.deepEqual(docs[0].data, { from: 'remote' });
    } finally {
      await server.close();
    }
  });
});
