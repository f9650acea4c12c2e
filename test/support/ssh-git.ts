// A real sshd serving git repositories for tests: Debian's openssh-server on 127.0.0.1, started as its
// own process (not the system service) with a fresh host key, config and authorized deploy key in a
// temporary folder. Clients log in as the user the tests run as, which is the user sshd runs as: sshd
// can only let a non-root process's own user in, and a root one needs its privilege-separation folder.
// Found via SSHD_BIN (scripts/debian-tool-fixture.sh sshd).

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from './registry.ts';

export interface SshKey {
  /** the private key file (mode 0600) */
  file: string;
  /** the private key's text, as an operator would put it in an environment variable */
  privateKey: string;
  /** `ssh-ed25519 AAAA…` */
  publicKey: string;
}

export interface GitSshServer {
  port: number;
  /** ssh://USER@127.0.0.1:PORT/ABSOLUTE/PATH for a repository under the served folder */
  url(repoPath: string): string;
  /** the known_hosts line that pins this server's host key */
  knownHosts: string;
  /** the deploy key the server accepts */
  deployKey: SshKey;
  /** makes another key pair (not accepted by the server unless authorized) */
  newKey(name: string): SshKey;
  close(): Promise<void>;
}

export function sshdBin(): string | undefined {
  const bin = process.env.SSHD_BIN ?? '/usr/sbin/sshd';
  return existsSync(bin) ? bin : undefined;
}

function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child.exitCode !== null) return reject(new Error(`sshd exited: ${log()}`));
      const socket = connect(port, '127.0.0.1');
      socket.once('data', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`sshd did not listen on ${port}: ${log()}`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

export async function startGitSshServer(): Promise<GitSshServer> {
  const bin = sshdBin();
  if (!bin) throw new Error('sshd not found: set SSHD_BIN (scripts/debian-tool-fixture.sh sshd)');
  const dir = await mkdtemp(join(tmpdir(), 'outpost-sshd-'));
  const keygen = (name: string, comment: string): SshKey => {
    const file = join(dir, name);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
    return {
      file,
      privateKey: readFileSync(file, 'utf8'),
      publicKey: readFileSync(`${file}.pub`, 'utf8').trim(),
    };
  };
  const hostKey = keygen('host_key', 'outpost-test-host');
  const deployKey = keygen('deploy_key', 'outpost-test-deploy');
  await writeFile(join(dir, 'authorized_keys'), `${deployKey.publicKey}\n`, { mode: 0o600 });
  const port = await freePort();
  const user = userInfo().username;
  // a root sshd separates privileges into this folder, which the system service would have made
  if (process.getuid?.() === 0) await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const config = [
    'ListenAddress 127.0.0.1',
    `Port ${port}`,
    `HostKey ${hostKey.file}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    `AllowUsers ${user}`,
    'AuthenticationMethods publickey',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin prohibit-password',
    'UsePAM no',
    'StrictModes no',
    'AllowTcpForwarding no',
    'X11Forwarding no',
    'PermitTTY no',
    'LogLevel VERBOSE',
  ].join('\n');
  await writeFile(join(dir, 'sshd_config'), `${config}\n`);
  const child = spawn(bin, ['-D', '-e', '-f', join(dir, 'sshd_config')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-8000);
  });
  try {
    await waitForPort(port, child, () => stderr);
  } catch (e) {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  const [type, key] = hostKey.publicKey.split(' ');
  return {
    port,
    url: (repoPath) => `ssh://${user}@127.0.0.1:${port}${repoPath}`,
    knownHosts: `[127.0.0.1]:${port} ${type} ${key}`,
    deployKey,
    newKey: (name) => keygen(name, `outpost-test-${name}`),
    async close() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
