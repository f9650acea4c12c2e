// Agent releases from the terminal: build one from a checkout, make the release key, sign and push a
// release to the hub, and upgrade the fleet to it: `agent upgrade` writes the reserved outpost-agent
// bundle, so the new version reaches sites through a rollout (waves, gates, windows, budget, rollback).

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { Command } from '@commander-js/extra-typings';
import { parse, stringify } from 'yaml';
import {
  agentBundleName,
  agentReleaseObject,
  defaultUpgradeDeadlineSeconds,
  releaseStatement,
  versionProblem,
} from '../model/agent-release.ts';
import { OutpostError } from '../model/errors.ts';
import type { AgentReleaseView } from '../model/wire.ts';
import { generateReleaseKey, signRelease } from '../pki/release-key.ts';
import { parseLabels, positive, splitList } from './arguments.ts';
import type { HubApi } from './hub-api.ts';
import { addListCommand, api, operatorOptions, outputOption, print } from './options.ts';

const repoRoot = resolve(import.meta.dirname, '..', '..');

function checkedVersion(version: string): string {
  const bad = versionProblem(version);
  if (bad) throw new OutpostError('request_invalid', `--version ${bad}`);
  return version;
}

/** The version a release tarball's name says (outpost-VERSION-linux-ARCH.tar.gz). */
function versionOfFile(file: string): string | undefined {
  return /^outpost-(.+)-linux-[a-z0-9]+\.tar\.gz$/.exec(basename(file))?.[1];
}

/** The Bundle of the reserved agent bundle for one release, as YAML. */
function agentBundleYaml(
  release: AgentReleaseView,
  opts: { selector: Record<string, string>; strategy?: unknown; deadlineSeconds: number },
): string {
  const bundle = {
    apiVersion: 'outpost.dev/v1',
    kind: 'Bundle',
    metadata: { name: agentBundleName },
    spec: {
      placement: { selector: Object.keys(opts.selector).length ? { matchLabels: opts.selector } : {} },
      ...(opts.strategy !== undefined ? { rollout: opts.strategy } : {}),
    },
  };
  const object = agentReleaseObject({
    version: release.version,
    digest: release.digest,
    size: release.size,
    signature: release.signature,
    deadlineSeconds: opts.deadlineSeconds,
    ...(release.image ? { image: release.image } : {}),
  });
  return `${stringify(bundle)}---\n${stringify(object)}`;
}

/** A strategy by name, or read from a YAML/JSON file when the value names one. */
async function strategyArgument(value: string): Promise<unknown> {
  if (!existsSync(value)) return value;
  try {
    return parse(await readFile(value, 'utf8'), { version: '1.1' });
  } catch (e) {
    throw new OutpostError('request_invalid', `--strategy ${value}: ${(e as Error).message}`, {
      file: value,
    });
  }
}

async function applyAgentBundle(hub: HubApi, yaml: string) {
  return hub.applyBundle({ files: [{ path: `${agentBundleName}.yaml`, content: yaml }] });
}

export function addAgentReleaseCommands(agent: Command): void {
  agent
    .command('build-release')
    .description('build a release (the pinned Node runtime, the built command, launchers) from this checkout')
    .requiredOption('--version <v>', 'the version the release says it is')
    .requiredOption('--out <dir>', 'where the release folder, tarball and .sha256 go')
    .action(async (opts) => {
      const script = join(repoRoot, 'scripts', 'build-release.sh');
      if (!existsSync(script))
        throw new OutpostError(
          'request_invalid',
          'build-release runs from an Outpost checkout (scripts/build-release.sh)',
        );
      const code = await new Promise<number>((done) =>
        spawn('bash', [script, '--version', checkedVersion(opts.version), '--out', resolve(opts.out)], {
          stdio: 'inherit',
        }).on('exit', (c) => done(c ?? 1)),
      );
      if (code !== 0) process.exitCode = code;
    });

  const release = agent.command('release').description('agent releases: the release key, push, list');

  release
    .command('keygen')
    .description(
      'make a release key: release.key signs releases (keep it offline), release.pub goes to the hub',
    )
    .requiredOption('--out <dir>', 'folder for release.key (mode 0600) and release.pub')
    .action(async (opts) => {
      const dir = resolve(opts.out);
      const keyFile = join(dir, 'release.key');
      if (existsSync(keyFile))
        throw new OutpostError('conflict', `${keyFile} exists; a release key is never replaced by accident`);
      const key = generateReleaseKey();
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await writeFile(keyFile, key.privateKeyPem, { mode: 0o600, flag: 'wx' });
      const pem = `-----BEGIN PUBLIC KEY-----\n${key.publicKey}\n-----END PUBLIC KEY-----\n`;
      await writeFile(join(dir, 'release.pub'), pem);
      print(`wrote ${keyFile} (private: keep it off the hub) and ${join(dir, 'release.pub')}`);
      print(
        `start the hub with --release-key ${join(dir, 'release.pub')}; join tokens made after that carry it`,
      );
    });

  operatorOptions(
    release
      .command('push')
      .description('sign a release tarball with the release key and store it on the hub')
      .argument('<file>', 'outpost-VERSION-linux-ARCH.tar.gz from build-release')
      .requiredOption('--key <file>', 'the release key (release.key from keygen)')
      .option('--version <v>', 'the release version (default: from the file name)')
      .option(
        '--image <ref>',
        'the agent image of this version, for in-cluster sites (a digest reference pins it)',
      ),
  ).action(async (file, opts) => {
    const version = checkedVersion(
      opts.version ??
        versionOfFile(file) ??
        (() => {
          throw new OutpostError('request_invalid', `give --version: ${basename(file)} does not say one`);
        })(),
    );
    const tarball = await readFile(file);
    const digest = `sha256:${createHash('sha256').update(tarball).digest('hex')}`;
    const sumFile = `${file}.sha256`;
    if (existsSync(sumFile)) {
      const listed = (await readFile(sumFile, 'utf8')).trim().split(/\s+/)[0];
      if (`sha256:${listed}` !== digest)
        throw new OutpostError(
          'release_invalid',
          `${file} does not match ${sumFile}: the file changed since it was built`,
        );
    }
    const statement = releaseStatement({ version, digest, size: tarball.length, image: opts.image });
    const signature = signRelease(await readFile(opts.key, 'utf8'), statement);
    const hub = await api(opts);
    const stored = await hub.pushAgentRelease(version, { digest, signature, image: opts.image }, tarball);
    print(`release ${stored.version} stored (${stored.digest}, ${(stored.size / 2 ** 20).toFixed(1)} MiB)`);
  });

  addListCommand(
    release,
    'list the agent releases the hub holds',
    (hub) => hub.agentReleases(),
    ['version', 'digest', 'MiB', 'image', 'created'],
    (r) => [
      r.version,
      `${r.digest.slice(0, 19)}…`,
      (r.size / 2 ** 20).toFixed(1),
      r.image ?? '',
      r.createdAt,
    ],
  );

  operatorOptions(
    agent
      .command('upgrade')
      .description('roll the fleet (or the sites a selector picks) to an agent release, through a rollout')
      .requiredOption('--version <v>', 'the release to run (pushed with `agent release push`)')
      .option(
        '--strategy <name|file>',
        'a rollout strategy by name (canary, by-region, manual, emergency) or a file',
        'canary',
      )
      .option('--selector <labels>', 'only sites with these labels, key=value,… (default: every site)')
      .option(
        '--from-version <v>',
        'the release the sites run now; needed the first time, so the rollout has a revision to start from and go back to',
      )
      .option(
        '--deadline <seconds>',
        'how long a new agent has to prove itself',
        String(defaultUpgradeDeadlineSeconds),
      )
      .option('--dry-run', 'print the bundle instead of applying it')
      .addOption(outputOption()),
  ).action(async (opts) => {
    const hub = await api(opts);
    const selector = parseLabels(splitList(opts.selector) ?? []);
    const deadlineSeconds = positive(opts.deadline, '--deadline');
    const target = await hub.agentRelease(checkedVersion(opts.version));
    const yaml = agentBundleYaml(target, {
      selector,
      strategy: await strategyArgument(opts.strategy),
      deadlineSeconds,
    });
    if (opts.dryRun) {
      process.stdout.write(yaml);
      return;
    }
    const exists = (await hub.bundles()).some((b) => b.name === agentBundleName);
    if (!exists) {
      if (!opts.fromVersion)
        throw new OutpostError(
          'request_invalid',
          `the fleet's agent version is not on record yet: pass --from-version (the release the sites run now), so the rollout to ${target.version} starts from it and can go back to it`,
        );
      const baseline = await hub.agentRelease(checkedVersion(opts.fromVersion));
      const first = await applyAgentBundle(hub, agentBundleYaml(baseline, { selector, deadlineSeconds }));
      print(
        `recorded agent ${baseline.version} as what the fleet runs (${agentBundleName} revision ${first.revision})`,
      );
    }
    const result = await applyAgentBundle(hub, yaml);
    if (opts.output === 'json') {
      print(JSON.stringify(result, null, 2));
      return;
    }
    print(
      result.changed
        ? `agent ${target.version}: ${agentBundleName} revision ${result.revision}, ${result.targeted} site(s)${
            result.rollout ? `, rollout ${result.rollout}` : ''
          }`
        : `agent ${target.version} is already what ${agentBundleName} asks for (revision ${result.revision})`,
    );
  });
}
