import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type AgentRelease,
  agentBundleProblem,
  agentReleaseObject,
  parseAgentRelease,
  releaseStatement,
} from './agent-release.ts';

const release: AgentRelease = {
  version: '0.2.0',
  digest: `sha256:${'c'.repeat(64)}`,
  size: 42_000_000,
  image: `registry.example/outpost-agent@sha256:${'d'.repeat(64)}`,
  signature: 'c2lnbmF0dXJl',
  deadlineSeconds: 300,
};

test('an AgentRelease object reads back as the release it was made from', () => {
  assert.deepEqual(parseAgentRelease(agentReleaseObject(release)), release);
  const { image: _image, ...noImage } = release;
  assert.deepEqual(parseAgentRelease(agentReleaseObject(noImage)), noImage);
});

test('the signed statement covers version, digest, size and image, not the deadline', () => {
  const s = releaseStatement(release);
  assert.equal(s, releaseStatement({ ...release }));
  assert.notEqual(s, releaseStatement({ ...release, image: undefined }));
  assert.deepEqual(JSON.parse(s), {
    statement: 'outpost-agent-release/v1',
    version: '0.2.0',
    digest: release.digest,
    size: 42_000_000,
    image: release.image,
  });
});

test('a malformed AgentRelease says what is wrong', () => {
  const good = agentReleaseObject(release);
  const broken = (spec: Record<string, unknown>) =>
    parseAgentRelease({ ...good, spec: { ...(good.spec as Record<string, unknown>), ...spec } });
  assert.deepEqual(broken({ version: '../etc' }), {
    problem: 'spec.version: "../etc" is not a release version (letters, digits and . + _ -, at most 64)',
  });
  assert.match((broken({ digest: 'md5:x' }) as { problem: string }).problem, /spec.digest/);
  assert.match((broken({ size: -1 }) as { problem: string }).problem, /spec.size/);
  assert.match((broken({ signature: 'not base64!' }) as { problem: string }).problem, /spec.signature/);
  assert.match((broken({ deadlineSeconds: 1 }) as { problem: string }).problem, /deadlineSeconds/);
});

test('only the reserved bundle holds an AgentRelease, and it holds exactly one', () => {
  const configMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } };
  assert.equal(agentBundleProblem('outpost-agent', [agentReleaseObject(release)]), undefined);
  assert.equal(agentBundleProblem('pos', [configMap]), undefined);
  assert.deepEqual(agentBundleProblem('pos', [configMap, agentReleaseObject(release)]), {
    index: 1,
    problem: 'an AgentRelease belongs only in the bundle named outpost-agent',
  });
  assert.equal(agentBundleProblem('outpost-agent', [agentReleaseObject(release), configMap])?.index, -1);
  assert.equal(agentBundleProblem('outpost-agent', [])?.index, -1);
});
