// What `outpost agent install --systemd` writes for a host install (k3s, MicroK8s on one box): a unit
// that runs the release's launcher for good, restarts it always, logs to the journal and confines it.
// Pure: options in, unit text out.

import { OutpostError } from '../../../model/errors.ts';
import { siteNameProblem } from '../../../model/site.ts';
import { validateLabels } from '../../../select/labels.ts';

export interface HostInstallOptions {
  /** absolute path of the release's launcher (`bin/outpost-agent` in the unpacked release) */
  launcher: string;
  /** where the agent keeps its state, upgrades included; default /var/lib/outpost-agent */
  stateDir?: string;
  /** file holding OUTPOST_JOIN_TOKEN=…, mode 0600 (written beside the unit) */
  environmentFile: string;
  /** kubeconfig of the site's cluster (k3s: /etc/rancher/k3s/k3s.yaml) */
  kubeconfig?: string;
  name?: string;
  labels?: Record<string, string>;
  /** run as this user instead of root (it must be able to read the kubeconfig) */
  user?: string;
}

export const defaultHostStateDir = '/var/lib/outpost-agent';
export const agentUnitName = 'outpost-agent.service';

/** Memory the unit may use: the container limit's figure (cluster-manifest.ts), for the same reasons. */
const memoryMax = '256M';

function invalid(message: string): never {
  throw new OutpostError('request_invalid', message);
}

/** systemd splits ExecStart on spaces and treats `%`, `$`, `\` and quotes specially: refuse them. */
function plainArgument(value: string, what: string): string {
  if (!/^[A-Za-z0-9_./:=@+,-]+$/.test(value))
    invalid(
      `${what} "${value}" has characters a unit file would need quoted; use letters, digits and ./:=@+,-_`,
    );
  return value;
}

function absolute(path: string, what: string): string {
  if (!path.startsWith('/')) invalid(`${what} must be an absolute path, got "${path}"`);
  return plainArgument(path, what);
}

/**
 * The unit file's text.
 * @example hostUnit({ launcher: '/opt/outpost-0.2.0/bin/outpost-agent', environmentFile: '/etc/outpost/agent.env' })
 */
export function hostUnit(opts: HostInstallOptions): string {
  const stateDir = absolute(opts.stateDir ?? defaultHostStateDir, '--state-dir');
  // the launcher runs `outpost agent` with these options
  const args = ['--state-dir', stateDir];
  if (opts.kubeconfig) args.push('--kubeconfig', absolute(opts.kubeconfig, '--kubeconfig'));
  if (opts.name !== undefined) {
    const problem = siteNameProblem(opts.name);
    if (problem) invalid(`--name: ${problem}`);
    args.push('--name', opts.name);
  }
  const problems = validateLabels(opts.labels ?? {}, '--label');
  if (problems.length > 0) invalid(problems.map((p) => `${p.path}: ${p.message}`).join('; '));
  for (const [k, v] of Object.entries(opts.labels ?? {}))
    args.push('--label', plainArgument(`${k}=${v}`, '--label'));
  if (opts.user !== undefined && !/^[a-z_][a-z0-9_-]{0,31}$/.test(opts.user))
    invalid(`--user "${opts.user}" is not a user name`);
  // systemd makes and owns a folder under /var/lib itself (StateDirectory); elsewhere it must only allow writing
  const underVarLib = /^\/var\/lib\/([^/]+(\/[^/]+)*)$/.exec(stateDir);
  const stateLines = underVarLib
    ? [`StateDirectory=${underVarLib[1]}`, 'StateDirectoryMode=0700']
    : [`ReadWritePaths=${stateDir}`];
  return `# Outpost agent (host install), written by \`outpost agent install --systemd\`.
# The launcher runs the release it belongs to, or the newer one an upgrade put in the state directory,
# and goes back to the previous release by itself when a new one does not prove itself in time.
[Unit]
Description=Outpost agent: applies this site's desired state from the Outpost hub
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart=${absolute(opts.launcher, 'the launcher')} ${args.join(' ')}
EnvironmentFile=${absolute(opts.environmentFile, 'the environment file')}
${opts.user ? `User=${opts.user}\n` : ''}Restart=always
RestartSec=5
TimeoutStopSec=30
${stateLines.join('\n')}
StandardOutput=journal
StandardError=journal
SyslogIdentifier=outpost-agent
MemoryMax=${memoryMax}
# Confinement: the agent needs the network, its state directory and to read a kubeconfig; nothing else.
NoNewPrivileges=yes
CapabilityBoundingSet=
AmbientCapabilities=
ProtectSystem=strict
ProtectHome=read-only
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
RestrictNamespaces=yes
LockPersonality=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
SystemCallArchitectures=native
UMask=0077

[Install]
WantedBy=multi-user.target
`;
}

/** The environment file's text: the join token, read once at registration. */
export function hostEnvironment(joinToken: string): string {
  if (!joinToken.startsWith('outpost-join-v1.'))
    invalid('--join-token is not a join token (outpost token create prints one)');
  plainArgument(joinToken, '--join-token');
  return `# Outpost agent: read by ${agentUnitName}; the join token is needed until the site is registered\nOUTPOST_JOIN_TOKEN=${joinToken}\n`;
}
