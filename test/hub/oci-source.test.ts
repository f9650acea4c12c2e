// OCI sources on real parts: Debian's docker-registry on 127.0.0.1 (with htpasswd auth), fleet
// artifacts pushed by the real `oras` (built from the Go module proxy) in the media types `flux push
// artifact` writes. A tag and a semver range resolve to a digest that pins the content; an unreachable
// registry, wrong or missing credentials, a range nothing matches, an artifact without a tarball layer
// and a layer damaged in the registry's storage are each refused with a message that says which.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  fluxConfigMediaType,
  fluxContentMediaType,
  type OciSourceSpec,
  openOciSource,
  parseOciUrl,
} from '../../src/hub/sources/oci.ts';
import { OutpostError } from '../../src/model/errors.ts';
import { tempDir } from '../support/git-server.ts';
import {
  type FleetPusher,
  fleetPusher,
  freePort,
  type Registry,
  registryBin,
  registryUser,
  startRegistry,
} from '../support/registry.ts';
import { missingTools, runTool } from '../support/tools.ts';

const skip =
  missingTools('oras') ||
  (registryBin() ? false : 'docker-registry not installed (scripts/debian-tool-fixture.sh)');
let registry: Registry;
let work: { dir: string; remove(): Promise<void> };
const limits = { maxFiles: 1000, maxBytes: 8 << 20 };
const env = { OUTPOST_TEST_REGISTRY_PASSWORD: registryUser.password };
const auth = { username: registryUser.username, passwordEnv: 'OUTPOST_TEST_REGISTRY_PASSWORD' };

let pusher: FleetPusher;
const pushFleet = (tag: string, files: Record<string, string>, repo = 'fleet') =>
  pusher.push(repo, tag, files);

const bundle = (greeting: string) => ({
  'fleet/hello/bundle.yaml':
    'apiVersion: outpost.dev/v1\nkind: Bundle\nmetadata: {name: hello}\nspec: {placement: {selector: {}}}\n',
  'fleet/hello/config.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: hello, namespace: default}\ndata: {greeting: ${greeting}}\n`,
});

function source(over: Partial<OciSourceSpec> = {}) {
  return openOciSource({
    url: `oci://${registry.host}/fleet`,
    ref: { tag: 'latest' },
    auth,
    insecure: true,
    limits,
    env,
    ...over,
  });
}

async function refusal(promise: Promise<unknown>): Promise<OutpostError> {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof OutpostError, String(e));
    return e;
  }
  assert.fail('the OCI source did not refuse');
}

const greetingOf = (files: Array<{ path: string; data: Uint8Array }>) =>
  /greeting: (\S+)\}/.exec(
    new TextDecoder().decode(files.find((f) => f.path === 'fleet/hello/config.yaml')?.data),
  )?.[1];

before(async () => {
  if (skip) return;
  work = await tempDir('outpost-oci-');
  registry = await startRegistry({ auth: true });
  pusher = fleetPusher(registry, work.dir);
  for (const [tag, greeting] of [
    ['1.4.2', 'hi'],
    ['1.4.3', 'hello'],
    ['1.5.0-rc.1', 'hey'],
    ['latest', 'hello'],
  ] as const) {
    await pushFleet(tag, bundle(greeting));
  }
});

after(async () => {
  await registry?.close();
  await work?.remove();
});

describe('OCI sources', { skip, timeout: 180_000 }, () => {
  test('oras pushes what flux push artifact writes: an OCI manifest with Flux’s config and content types', async () => {
    const raw = runTool('oras', [
      'manifest',
      'fetch',
      '--plain-http',
      '--registry-config',
      pusher.config,
      `${registry.host}/fleet:1.4.3`,
    ]);
    const manifest = JSON.parse(raw);
    assert.equal(manifest.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(manifest.config.mediaType, fluxConfigMediaType);
    assert.deepEqual(
      manifest.layers.map((l: { mediaType: string }) => l.mediaType),
      [fluxContentMediaType],
    );
  });

  test('a tag resolves to a digest whose files stay pinned when the tag moves', async () => {
    const before = await source().resolve();
    assert.match(before.digest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(before.tag, 'latest');
    assert.equal(before.annotations['org.opencontainers.image.revision'], 'main@sha1:latest');
    const files = await source().files(before.digest);
    assert.deepEqual(files.map((f) => f.path).sort(), ['fleet/hello/bundle.yaml', 'fleet/hello/config.yaml']);
    assert.equal(greetingOf(files), 'hello');

    await pushFleet('latest', bundle('bonjour'));
    const moved = await source().resolve();
    assert.notEqual(moved.digest, before.digest);
    assert.equal(greetingOf(await source().files(moved.digest)), 'bonjour');
    assert.equal(
      greetingOf(await source().files(before.digest)),
      'hello',
      'the old digest still has the old files',
    );
  });

  test('a semver range picks the highest release tag in range', async () => {
    const resolved = async (range: string) => (await source({ ref: { semver: range } }).resolve()).tag;
    assert.equal(await resolved('~1.4'), '1.4.3');
    assert.equal(await resolved('>=1.4.0, <1.4.3'), '1.4.2');
    assert.equal(await resolved('>=1.4.0'), '1.4.3', 'pre-releases only when the range asks for them');
    assert.equal(await resolved('>=1.5.0-rc.0'), '1.5.0-rc.1');
    const none = await refusal(source({ ref: { semver: '^2.0.0' } }).resolve());
    assert.match(
      none.message,
      /no tag of fleet on 127\.0\.0\.1:\d+ is in the range \^2\.0\.0 \(latest tags: .*1\.4\.3/,
    );
  });

  test('credentials: none, wrong and unset are each refused', async () => {
    const none = await refusal(source({ auth: {} }).resolve());
    assert.match(none.message, /needs credentials \(username, passwordEnv\) for fleet \(HTTP 401\)/);
    const wrong = await refusal(source({ env: { OUTPOST_TEST_REGISTRY_PASSWORD: 'nope' } }).resolve());
    assert.match(wrong.message, /refused the credentials for fleet \(HTTP 401\)/);
    assert.doesNotMatch(wrong.message, /nope/);
    const unset = await refusal(source({ env: {} }).resolve());
    assert.match(unset.message, /OUTPOST_TEST_REGISTRY_PASSWORD is not set/);
  });

  test('an unreachable registry and a missing tag are refused', async () => {
    const closed = await freePort();
    const down = await refusal(source({ url: `oci://127.0.0.1:${closed}/fleet` }).resolve());
    assert.equal(down.code, 'source_failed');
    assert.match(
      down.message,
      new RegExp(`the registry 127\\.0\\.0\\.1:${closed} is unreachable: ECONNREFUSED`),
    );
    const missing = await refusal(source({ ref: { tag: '0.0.1' } }).resolve());
    assert.match(missing.message, /fleet on 127\.0\.0\.1:\d+ has no tag 0\.0\.1/);
  });

  test('an artifact without a tarball layer is refused, naming its layers', async () => {
    const dir = join(work.dir, 'plain');
    await mkdir(dir, { recursive: true });
    writeFileSync(join(dir, 'hello.yaml'), 'a: 1\n');
    runTool(
      'oras',
      [
        'push',
        '--plain-http',
        '--registry-config',
        pusher.config,
        `${registry.host}/fleet:plain`,
        'hello.yaml:application/yaml',
      ],
      { cwd: dir },
    );
    const e = await refusal(source({ ref: { tag: 'plain' } }).resolve());
    assert.match(
      e.message,
      /no application\/vnd\.cncf\.flux\.content\.v1\.tar\+gzip layer .*\(layers: application\/yaml\)/,
    );
  });

  test('a layer whose bytes do not match its digest is refused', async () => {
    await pushFleet('1.0.0', bundle('tampered'), 'damaged');
    const damaged = source({ url: `oci://${registry.host}/damaged`, ref: { tag: '1.0.0' } });
    const { digest } = await damaged.resolve();
    const manifest = JSON.parse(
      runTool('oras', [
        'manifest',
        'fetch',
        '--plain-http',
        '--registry-config',
        pusher.config,
        `${registry.host}/damaged:1.0.0`,
      ]),
    );
    const layerHex = manifest.layers[0].digest.slice('sha256:'.length);
    const blobs = join(registry.storage, 'docker/registry/v2/blobs/sha256', layerHex.slice(0, 2), layerHex);
    assert.deepEqual(readdirSync(blobs), ['data']);
    writeFileSync(join(blobs, 'data'), execFileSync('gzip', ['-c'], { input: 'not the fleet' }));
    const e = await refusal(damaged.files(digest));
    assert.match(e.message, /does not match its digest; refusing it/);
  });

  test('an artifact larger than the limits is refused before or while unpacking', async () => {
    await pushFleet('big', { 'fleet/hello/config.yaml': `a: ${'x'.repeat(200_000)}\n` }, 'big');
    const big = (maxBytes: number) =>
      source({ url: `oci://${registry.host}/big`, ref: { tag: 'big' }, limits: { maxFiles: 10, maxBytes } });
    const { digest } = await big(1 << 20).resolve();
    assert.match((await refusal(big(100).files(digest))).message, /is \d+ bytes; the limit is 100/);
    assert.match(
      (await refusal(big(50_000).files(digest))).message,
      /files exceed 50000 bytes|unpacks to more than 50000 bytes/,
    );
  });
});

test('an OCI source URL names a registry and a repository, without a tag', () => {
  assert.deepEqual(parseOciUrl('oci://registry.example.com:5000/org/fleet'), {
    base: 'https://registry.example.com:5000',
    host: 'registry.example.com:5000',
    repository: 'org/fleet',
  });
  assert.equal(parseOciUrl('oci://127.0.0.1:5000/fleet', true).base, 'http://127.0.0.1:5000');
  assert.throws(() => parseOciUrl('oci://registry.example.com/fleet:1.0'), /no tag/);
  assert.throws(() => parseOciUrl('https://registry.example.com/fleet'), /oci:\/\/HOST/);
});
