// `outpost agent`: run a site's agent against the site's own cluster until Ctrl-C: register with a join
// token once, then pull the desired state from the hub and apply it.

import { rm } from 'node:fs/promises';
import { type Command, Option } from '@commander-js/extra-typings';
import { Agent } from '../agent/agent.ts';
import { KubeCluster } from '../agent/kube/client.ts';
import { resolveKubeConnection } from '../agent/kube/config.ts';
import { parseLabels, positive } from './arguments.ts';
import { logLine, untilSignal } from './long-running.ts';

export function addAgentCommand(root: Command): void {
  root
    .command('agent')
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
      const conn = resolveKubeConnection(opts.kubeconfig, opts.context);
      const cluster = new KubeCluster(conn);
      logLine('agent starting', { cluster: conn.source, stateDir: opts.stateDir });
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
        log: logLine,
      });
      await agent.run(untilSignal());
      cluster.close();
    });
}
