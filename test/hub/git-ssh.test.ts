// Git over SSH on real parts: Debian's sshd on 127.0.0.1 serving a repository made with the real git,
// fetched by the hub's SSH transport (real git + ssh) with a deploy key from a file or a variable and a
// pinned host key. A wrong host key, a wrong deploy key and an unreachable server each fail with a
// message that says which, and nothing is fetched.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import git from 'isomorphic-git';
import { fetchOverSsh, type SshAuth, sshAuthProblems } from '../../src/hub/sources/git-ssh.ts';
import { OutpostError } from '../../src/model/errors.ts';
import { createRepo, type GitRepo, tempDir } from '../support/git-server.ts';
import { freePort } from '../support/registry.ts';
import { type GitSshServer, sshdBin, startGitSshServer } from '../support/ssh-git.ts';

const skip = sshdBin() ? false : 'sshd not installed (scripts/debian-tool-fixture.sh sshd)';

let server: GitSshServer;
let repo: GitRepo;
let work: { dir: string; remove(): Promise<void> };
let first: string;

before(async () => {
  if (skip) return;
  work = await tempDir('outpost-git-ssh-');
  repo = await createRepo(work.dir, 'fleet');
  first = await repo.commit('first', { 'fleet/hello/bundle.yaml': 'kind: Bundle\n' });
  repo.git('tag', '-a', 'v1', '-m', 'release 1');
  server = await startGitSshServer();
});

after(async () => {
  await server?.close();
  await work?.remove();
});

const env = () => ({ ...process.env, OUTPOST_TEST_DEPLOY_KEY: server.deployKey.privateKey });
const goodAuth = (): SshAuth => ({ privateKeyEnv: 'OUTPOST_TEST_DEPLOY_KEY', knownHosts: server.knownHosts });

async function refused(promise: Promise<unknown>, pattern: RegExp): Promise<OutpostError> {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof OutpostError, String(e));
    assert.match(e.message, pattern);
    return e;
  }
  assert.fail('the fetch was not refused');
}

describe('git over SSH', { skip, timeout: 120_000 }, () => {
  test('fetches a branch with a deploy key from a variable; the cache reads like any git source', async () => {
    const gitdir = join(work.dir, 'cache', 'by-env.git');
    const commit = await fetchOverSsh({
      url: server.url(repo.dir),
      ref: 'main',
      auth: goodAuth(),
      gitdir,
      env: env(),
    });
    assert.equal(commit, first);
    const { tree } = await git.readTree({ fs, gitdir, oid: commit, filepath: 'fleet/hello' });
    assert.deepEqual(
      tree.map((e) => e.path),
      ['bundle.yaml'],
    );
    const second = await repo.commit('second', { 'fleet/hello/more.yaml': 'kind: ConfigMap\n' });
    assert.equal(
      await fetchOverSsh({ url: server.url(repo.dir), ref: 'main', auth: goodAuth(), gitdir, env: env() }),
      second,
    );
  });

  test('fetches an annotated tag with a key file, peeled to its commit', async () => {
    const commit = await fetchOverSsh({
      url: server.url(repo.dir),
      ref: 'v1',
      auth: { privateKeyFile: server.deployKey.file, knownHosts: server.knownHosts },
      gitdir: join(work.dir, 'cache', 'by-file.git'),
    });
    assert.equal(commit, first);
  });

  test('a host key other than the pinned one is refused', async () => {
    const impostor = server.newKey('impostor').publicKey.split(' ');
    const knownHosts = `[127.0.0.1]:${server.port} ${impostor[0]} ${impostor[1]}`;
    const gitdir = join(work.dir, 'cache', 'wrong-host.git');
    await refused(
      fetchOverSsh({
        url: server.url(repo.dir),
        ref: 'main',
        auth: { ...goodAuth(), knownHosts },
        gitdir,
        env: env(),
      }),
      /host key of 127\.0\.0\.1:\d+ does not match the pinned knownHosts.*Host key verification failed/,
    );
    assert.equal(
      await git.resolveRef({ fs, gitdir, ref: 'refs/outpost/fetched' }).catch(() => 'none'),
      'none',
    );
  });

  test('a deploy key the server does not know is refused', async () => {
    const stranger = server.newKey('stranger');
    await refused(
      fetchOverSsh({
        url: server.url(repo.dir),
        ref: 'main',
        auth: { privateKeyFile: stranger.file, knownHosts: server.knownHosts },
        gitdir: join(work.dir, 'cache', 'wrong-key.git'),
      }),
      /127\.0\.0\.1:\d+ refused the deploy key.*Permission denied \(publickey\)/,
    );
  });

  test('an unreachable server, a missing ref and a missing variable say so', async () => {
    const closed = await freePort();
    await refused(
      fetchOverSsh({
        url: `ssh://git@127.0.0.1:${closed}/fleet.git`,
        ref: 'main',
        auth: { ...goodAuth(), knownHosts: server.knownHosts.replace(String(server.port), String(closed)) },
        gitdir: join(work.dir, 'cache', 'closed.git'),
        env: env(),
      }),
      /127\.0\.0\.1:\d+ is unreachable.*Connection refused/,
    );
    await refused(
      fetchOverSsh({
        url: server.url(repo.dir),
        ref: 'no-such-branch',
        auth: goodAuth(),
        gitdir: join(work.dir, 'cache', 'no-ref.git'),
        env: env(),
      }),
      /has no branch or tag no-such-branch/,
    );
    await refused(
      fetchOverSsh({
        url: server.url(repo.dir),
        ref: 'main',
        auth: goodAuth(),
        gitdir: join(work.dir, 'cache', 'no-var.git'),
        env: {},
      }),
      /OUTPOST_TEST_DEPLOY_KEY is not set/,
    );
  });
});

test('an SSH source needs pinned host keys and exactly one deploy key', () => {
  assert.deepEqual(
    sshAuthProblems('git@example.com:fleet.git', {
      privateKeyEnv: 'K',
      knownHosts: 'example.com ssh-ed25519 AAAAC3Nza',
    }),
    [],
  );
  assert.match(
    sshAuthProblems('git@example.com:fleet.git', { privateKeyEnv: 'K' }).join(),
    /knownHosts is required/,
  );
  assert.match(
    sshAuthProblems('git@example.com:fleet.git', { knownHosts: 'example.com ssh-ed25519 AAAA' }).join(),
    /privateKeyFile .* or privateKeyEnv/,
  );
  assert.match(
    sshAuthProblems('https://example.com/fleet.git', {
      privateKeyEnv: 'K',
      knownHosts: 'h ssh-rsa AAAA',
    }).join(),
    /an SSH source is/,
  );
  assert.match(
    sshAuthProblems('git@example.com:x', { privateKeyEnv: 'K', knownHosts: 'not a key line' }).join(),
    /not a known_hosts line/,
  );
});
