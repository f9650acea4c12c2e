// `outpost agent`: run a site's agent against the site's own cluster until Ctrl-C (register with a join
// token once, then pull the desired state from the hub and apply it), and put one in place at a site:
// `agent manifest` prints the in-cluster install, `agent install --systemd` writes a host's unit.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { type Command, Option } from '@commander-js/extra-typings';
import { Agent, type AgentOptions } from '../agent/agent.ts';
import { allowedHooks } from '../agent/host-layers/core/allowed-hooks.ts';
import { clusterInstallYaml } from '../agent/install/core/cluster-manifest.ts';
import {
  agentUnitName,
  defaultHostStateDir,
  hostEnvironment,
  hostUnit,
} from '../agent/install/core/systemd-unit.ts';
import { KubeCluster } from '../agent/kube/client.ts';
import { resolveKubeConnection } from '../agent/kube/config.ts';
import { noUpgrade } from '../agent/upgrade/agent-upgrade.ts';
import { ClusterUpgrade } from '../agent/upgrade/cluster-upgrade.ts';
import { HostUpgrade } from '../agent/upgrade/host-upgrade.ts';
import { OutpostError } from '../model/errors.ts';
import { addAgentReleaseCommands } from './agent-release.ts';
import { parseLabels, positive } from './arguments.ts';
import { logLine, untilSignal } from './long-running.ts';
import { print } from './options.ts';

/**
 * How this install runs another agent release: the host launcher (deploy/outpost-agent) and the
 * in-cluster Deployment (cluster-manifest.ts) say so in the environment they give the agent; anything
 * else cannot, and the site says that when asked to.
 */
function upgradeOfThisInstall(cluster: KubeCluster): AgentOptions['upgrade'] {
  const env = process.env;
  if (env.OUTPOST_LAUNCHER)
    return (site) => HostUpgrade.open({ ...site, trial: env.OUTPOST_AGENT_TRIAL || undefined });
  if (env.OUTPOST_AGENT_WORKLOAD && env.OUTPOST_POD_NAMESPACE) {
    const workload = { namespace: env.OUTPOST_POD_NAMESPACE, workload: env.OUTPOST_AGENT_WORKLOAD };
    return (site) => ClusterUpgrade.open({ ...site, ...workload, cluster });
  }
  return (site) =>
    noUpgrade(
      site.running,
      'it was started neither by the host launcher (bin/outpost-agent) nor by its Deployment (see "Install at a site" in the README)',
    );
}

/** The launcher of the release this command runs from, when it runs from an unpacked release. */
function ownLauncher(): string | undefined {
  const entry = process.argv[1];
  if (!entry) return undefined;
  const launcher = join(dirname(dirname(resolve(entry))), 'bin', 'outpost-agent');
  return existsSync(launcher) ? launcher : undefined;
}

export function addAgentCommand(root: Command): void {
  root.enablePositionalOptions();
  const agent = root
    .command('agent')
    .enablePositionalOptions()
    .description(
      "run a site's agent: pull the desired state from the hub and apply it to this site's cluster",
    )
    .addOption(
      new Option('--join-token <token>', 'from `outpost token create`; needed until registered').env(
        'OUTPOST_JOIN_TOKEN',
      ),
    )
    .addOption(
      new Option('--name <name>', 'the site name to ask for (default: host name)').env('OUTPOST_SITE'),
    )
    .option('--machine-id <id>', 'stable machine id (default: /etc/machine-id)')
    .option('--relay <url...>', 'regional relays to call first (default: those the join token lists)')
    .option('--label <key=value...>', 'labels the site asks for at registration', [] as string[])
    .option('--state-dir <dir>', 'where the agent keeps its state', 'outpost-agent')
    .option(
      '--kubeconfig <path>',
      'kubeconfig of the site cluster (default: $KUBECONFIG, in-cluster, ~/.kube/config)',
    )
    .option('--context <name>', 'kubeconfig context')
    .option(
      '--factory-reset',
      "wipe the agent's state (identity, cache) and register again; the cluster is not touched",
    )
    .option('--local-page <host:port>', 'where the read-only local status page listens', '127.0.0.1:7071')
    .option('--no-local-page', 'serve no local status page')
    .addOption(
      new Option(
        '--tunnel <on|off>',
        "let operators open troubleshooting tunnels to this site's Kubernetes API",
      )
        .choices(['on', 'off'] as const)
        .default('on' as const),
    )
    .option(
      '--host-hook <path...>',
      "a program profiles' host hooks may run on this host (also OUTPOST_HOST_HOOKS, colon-separated); none by default",
      [] as string[],
    )
    .option('--telemetry-budget-mib <n>', 'disk budget of the store-and-forward telemetry buffer', '64')
    .option('--telemetry-bandwidth <bytes/s>', 'cap on the telemetry uplink, compressed bytes per second')
    .action(async (opts) => {
      const budgetMiB = positive(opts.telemetryBudgetMib, '--telemetry-budget-mib');
      const bandwidth =
        opts.telemetryBandwidth === undefined
          ? undefined
          : positive(opts.telemetryBandwidth, '--telemetry-bandwidth');
      if (opts.factoryReset) {
        await rm(opts.stateDir, { recursive: true, force: true });
        logLine('factory reset: agent state wiped', { stateDir: opts.stateDir });
      }
      const hostHooks = allowedHooks([process.env.OUTPOST_HOST_HOOKS ?? '', ...opts.hostHook]);
      const conn = resolveKubeConnection(opts.kubeconfig, opts.context);
      const cluster = new KubeCluster(conn);
      logLine('agent starting', { cluster: conn.source, stateDir: opts.stateDir, hostHooks });
      const agent = new Agent({
        joinToken: opts.joinToken,
        relays: opts.relay,
        name: opts.name,
        machineId: opts.machineId,
        labels: parseLabels(opts.label),
        stateDir: opts.stateDir,
        cluster,
        localPage: opts.localPage,
        telemetry: { budgetBytes: Math.floor(budgetMiB * 1024 * 1024), bandwidthBytesPerSecond: bandwidth },
        hostHooks,
        upgrade: upgradeOfThisInstall(cluster),
        ...(opts.tunnel === 'on' ? { tunnel: conn } : {}),
        log: logLine,
      });
      await agent.run(untilSignal());
      cluster.close();
      if (agent.exitCode !== undefined) process.exitCode = agent.exitCode;
    });

  agent
    .command('manifest')
    .description('print the YAML that installs an agent into the site cluster (kubectl apply -f -)')
    .addOption(
      new Option('--join-token <token>', 'from `outpost token create`')
        .env('OUTPOST_JOIN_TOKEN')
        .makeOptionMandatory(),
    )
    .requiredOption('--image <ref>', 'the agent image (Containerfile.agent of a release)')
    .option('--name <name>', 'the site name to ask for (default: the node the agent runs on)')
    .option('--label <key=value...>', 'labels the site asks for at registration', [] as string[])
    .addOption(
      new Option('--storage <kind>', 'where the state lives')
        .choices(['pvc', 'hostPath'] as const)
        .default('pvc' as const),
    )
    .option('--namespace <ns>', 'namespace of the agent', 'outpost-system')
    .option('--storage-class <name>', 'storage class of the claim (default: the cluster default)')
    .option('--storage-size <quantity>', 'size of the claim', '1Gi')
    .option('--host-path <dir>', 'node folder for --storage hostPath', '/var/lib/outpost-agent')
    .option(
      '--cluster-role <name>',
      'an existing ClusterRole saying what bundles may hold, instead of every right (README: narrowing)',
    )
    .action((opts) => {
      process.stdout.write(
        clusterInstallYaml({
          joinToken: opts.joinToken,
          image: opts.image,
          ...(opts.name ? { name: opts.name } : {}),
          labels: parseLabels(opts.label),
          storage: opts.storage,
          namespace: opts.namespace,
          storageSize: opts.storageSize,
          ...(opts.storageClass ? { storageClass: opts.storageClass } : {}),
          ...(opts.storage === 'hostPath' ? { hostPath: opts.hostPath } : {}),
          ...(opts.clusterRole ? { clusterRole: opts.clusterRole } : {}),
        }),
      );
    });

  agent
    .command('install')
    .description('install the agent on this host as a systemd service (k3s, MicroK8s on one box)')
    .requiredOption('--systemd', 'write a systemd unit (the one kind of host install)')
    .addOption(
      new Option('--join-token <token>', 'from `outpost token create`')
        .env('OUTPOST_JOIN_TOKEN')
        .makeOptionMandatory(),
    )
    .option('--name <name>', 'the site name to ask for (default: host name)')
    .option('--label <key=value...>', 'labels the site asks for at registration', [] as string[])
    .option('--kubeconfig <path>', 'kubeconfig of the site cluster (k3s: /etc/rancher/k3s/k3s.yaml)')
    .option('--state-dir <dir>', 'where the agent keeps its state and releases', defaultHostStateDir)
    .option('--user <name>', 'run as this user (it must read the kubeconfig); default root')
    .option(
      '--launcher <path>',
      "the release's bin/outpost-agent (default: the release running this command)",
    )
    .option('--unit-dir <dir>', 'where the unit goes', '/etc/systemd/system')
    .option('--config-dir <dir>', 'where the file with the join token goes (mode 0600)', '/etc/outpost-agent')
    .action(async (opts) => {
      const launcher = opts.launcher ? resolve(opts.launcher) : ownLauncher();
      if (!launcher)
        throw new OutpostError(
          'request_invalid',
          'run this from an unpacked release (RELEASE/bin/outpost agent install …) or give --launcher RELEASE/bin/outpost-agent',
        );
      const environmentFile = join(resolve(opts.configDir), 'agent.env');
      const unit = hostUnit({
        launcher,
        stateDir: resolve(opts.stateDir),
        environmentFile,
        ...(opts.kubeconfig ? { kubeconfig: resolve(opts.kubeconfig) } : {}),
        ...(opts.name ? { name: opts.name } : {}),
        labels: parseLabels(opts.label),
        ...(opts.user ? { user: opts.user } : {}),
      });
      const env = hostEnvironment(opts.joinToken);
      await mkdir(dirname(environmentFile), { recursive: true, mode: 0o700 });
      await writeFile(environmentFile, env, { mode: 0o600 });
      const unitFile = join(resolve(opts.unitDir), agentUnitName);
      await mkdir(dirname(unitFile), { recursive: true });
      await writeFile(unitFile, unit, { mode: 0o644 });
      print(`wrote ${unitFile} and ${environmentFile}`);
      const problems = await verifyUnit(unitFile);
      if (problems) print(`systemd-analyze verify says:\n${problems}`);
      print('start it with: systemctl daemon-reload && systemctl enable --now outpost-agent');
    });

  addAgentReleaseCommands(agent);
}

/** What `systemd-analyze verify` finds wrong with the unit ('' when nothing), or undefined without it. */
async function verifyUnit(unitFile: string): Promise<string | undefined> {
  try {
    const { stderr } = await promisify(execFile)('systemd-analyze', ['verify', unitFile]);
    return stderr.trim() || undefined;
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') return undefined;
    return err.stderr?.trim() || err.message;
  }
}
