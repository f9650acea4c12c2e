// `outpost tunnel SITE`: a kubeconfig for one site's Kubernetes API through the hub, whose credential
// is a short-lived tunnel session (read-only unless --write, which takes an admin token).

import { writeFile } from 'node:fs/promises';
import type { Command } from '@commander-js/extra-typings';
import { stringify } from 'yaml';
import type { TunnelSessionView } from '../model/tunnel.ts';
import { seconds } from './arguments.ts';
import { api, operatorOptions, print } from './options.ts';

/** A kubeconfig with one cluster, user and context, all named `outpost-<site>`. */
export function tunnelKubeconfig(session: TunnelSessionView): string {
  const name = `outpost-${session.site}`;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name,
        cluster: {
          server: session.server,
          'certificate-authority-data': Buffer.from(session.caPem).toString('base64'),
        },
      },
    ],
    users: [{ name, user: { token: session.token } }],
    contexts: [{ name, context: { cluster: name, user: name } }],
    'current-context': name,
  });
}

export function addTunnelCommand(root: Command): void {
  operatorOptions(
    root
      .command('tunnel')
      .description(
        "a kubeconfig for a site's Kubernetes API through the hub: the site's agent dials out, nothing dials in",
      )
      .argument('<site>'),
  )
    .option('--write', 'allow changes too (needs an admin token); read-only by default')
    .option('--ttl <duration>', 'how long the credential lives (1m to 8h)', '15m')
    .option('--kubeconfig <path>', 'write the kubeconfig to this file (mode 0600) instead of printing it')
    .action(async (site, opts) => {
      const session = await (await api(opts)).openTunnel(site, {
        mode: opts.write ? 'write' : 'read',
        ttlSeconds: seconds(opts.ttl, '--ttl'),
      });
      const text = tunnelKubeconfig(session);
      if (!opts.kubeconfig) return print(text.trimEnd());
      await writeFile(opts.kubeconfig, text, { mode: 0o600 });
      process.stderr.write(
        `${session.mode === 'write' ? 'read-write' : 'read-only'} tunnel to ${site} until ${session.expiresAt}: kubectl --kubeconfig ${opts.kubeconfig} get pods -A\n`,
      );
    });
}
