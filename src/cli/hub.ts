// `outpost hub`: run the hub on embedded SQLite or, for replicas, PostgreSQL, until Ctrl-C. The hub's
// code is imported only when this command runs, so an agent process carries none of it.

import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type Command, Option } from '@commander-js/extra-typings';
import { OutpostError } from '../model/errors.ts';
import { compactPublicKey } from '../pki/release-key.ts';
import { helmLogin, parseLabels, positive, splitList } from './arguments.ts';
import { untilSignal } from './long-running.ts';
import { print } from './options.ts';

/** The release key's public half from a file; a private key is refused: it never belongs on a hub. */
async function readReleasePublicKey(file: string): Promise<string> {
  const text = await readFile(file, 'utf8');
  if (text.includes('PRIVATE KEY'))
    throw new OutpostError(
      'request_invalid',
      `${file} holds a private key; give the hub the public one (release.pub) and keep the private one offline`,
    );
  try {
    return compactPublicKey(text);
  } catch (e) {
    throw new OutpostError('request_invalid', `--release-key ${file}: ${(e as Error).message}`);
  }
}

export function addHubCommand(root: Command): void {
  root
    .command('hub')
    .description(
      'run the hub (operator API, agent API over mTLS) on embedded SQLite or, for replicas, PostgreSQL',
    )
    .option('--data-dir <dir>', 'where the database, CA and secrets live', 'outpost-data')
    .addOption(
      new Option(
        '--database <location>',
        'postgres://… shared by every replica (give them all the same --ca-cert/--ca-key), or a SQLite file (default DATA_DIR/hub.db)',
      ).env('OUTPOST_DATABASE'),
    )
    .addOption(
      new Option('--db-pool-size <n>', 'PostgreSQL connections per replica')
        .env('OUTPOST_DB_POOL_SIZE')
        .default('10'),
    )
    .option(
      '--db-statement-timeout <seconds>',
      'PostgreSQL cancels a statement running longer than this',
      '30',
    )
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:7070')
    .option('--public-url <url>', 'the URL agents reach this hub at (goes into join tokens)')
    .option('--tls-name <name...>', 'extra host names or addresses for the generated serving certificate')
    .option('--tls-cert <path>', 'serve this certificate instead of one from the hub CA (with --tls-key)')
    .option('--tls-key <path>', 'key of --tls-cert')
    .option('--ca-cert <path>', 'use this CA for site certificates instead of making one (with --ca-key)')
    .option('--ca-key <path>', 'key of --ca-cert')
    .addOption(
      new Option('--admin-token <token>', 'the first admin token, instead of a generated one').env(
        'OUTPOST_ADMIN_TOKEN',
      ),
    )
    .option('--cert-validity-days <days>', 'lifetime of site certificates (renewed at two thirds)', '30')
    .option('--stale-after <seconds>', 'a site without a heartbeat this long is Stale', '90')
    .option('--offline-after <seconds>', 'a site without a heartbeat this long is Offline', '600')
    .option('--log-level <level>', 'info, warn, error or debug', 'info')
    .option('--max-bundle-bytes <n>', 'largest bundle accepted, in bytes of YAML', String(8 * 1024 * 1024))
    .option('--max-bundle-objects <n>', 'most objects in one bundle', '2000')
    .option(
      '--aggregate-labels <keys>',
      'label keys counted per value in status and /metrics (keep them few-valued)',
      'region,format',
    )
    .option(
      '--alert-webhook <name=url...>',
      'send SLO alerts as Alertmanager webhook JSON to these receivers',
    )
    .option('--remote-write-url <url>', 'forward SLI samples to this Prometheus remote-write endpoint')
    .option('--metrics-public', 'serve /metrics without an API token (default: a viewer token is needed)')
    .option('--helm <path>', 'the helm (v4) that renders chart bundles (default: helm on PATH)')
    .option(
      '--kustomize <path>',
      'the standalone kustomize (v5) that builds kustomizations (default: on PATH)',
    )
    .option('--kustomize-remote-bases', 'let kustomizations name git or HTTP bases (refused by default)')
    .option('--helm-plain-http <host:port...>', 'OCI registries charts are pulled from over plain HTTP')
    .option(
      '--helm-login <host=user:VAR...>',
      "a user at a chart registry or repository, its password in the hub's environment variable VAR",
    )
    .option(
      '--release-key <file>',
      'public release key (outpost agent release keygen): releases must be signed with it, join tokens carry it',
    )
    .option('--max-release-bytes <n>', 'largest agent release accepted, in bytes', String(128 * 1024 * 1024))
    .addOption(
      new Option(
        '--relay-signatures <form>',
        'how states served through relays are signed: tree (one signature per relay answer) or per-site (every agent release verifies it; for older agents behind relays)',
      )
        .choices(['tree', 'per-site'] as const)
        .default('tree' as const),
    )
    .action(async (opts) => {
      const { startHub } = await import('../hub/start.ts');
      const releaseKey = opts.releaseKey ? await readReleasePublicKey(opts.releaseKey) : undefined;
      const hub = await startHub({
        alerts: {
          receivers: Object.entries(parseLabels(opts.alertWebhook ?? [])).map(([name, url]) => ({
            name,
            url,
          })),
        },
        ...(opts.remoteWriteUrl ? { telemetry: { remoteWrite: { url: opts.remoteWriteUrl } } } : {}),
        ...(opts.metricsPublic ? { metricsPublic: true } : {}),
        relaySignatures: opts.relaySignatures,
        generators: {
          ...(opts.helm ? { helm: resolve(opts.helm) } : {}),
          ...(opts.kustomize ? { kustomize: resolve(opts.kustomize) } : {}),
          kustomizeRemoteBases: opts.kustomizeRemoteBases ?? false,
          helmPlainHttp: opts.helmPlainHttp ?? [],
          helmLogins: (opts.helmLogin ?? []).map(helmLogin),
        },
        releases: {
          maxBytes: positive(opts.maxReleaseBytes, '--max-release-bytes'),
          ...(releaseKey ? { publicKey: releaseKey } : {}),
        },
        limits: {
          maxBundleBytes: positive(opts.maxBundleBytes, '--max-bundle-bytes'),
          maxBundleObjects: positive(opts.maxBundleObjects, '--max-bundle-objects'),
        },
        certificateValidityDays: positive(opts.certValidityDays, '--cert-validity-days'),
        connectivity: {
          staleAfterMs: positive(opts.staleAfter, '--stale-after') * 1000,
          offlineAfterMs: positive(opts.offlineAfter, '--offline-after') * 1000,
        },
        dataDir: opts.dataDir,
        database: opts.database,
        postgres: {
          poolSize: positive(opts.dbPoolSize, '--db-pool-size'),
          statementTimeoutMs: positive(opts.dbStatementTimeout, '--db-statement-timeout') * 1000,
        },
        listen: opts.listen,
        publicUrl: opts.publicUrl,
        tlsNames: opts.tlsName,
        tlsCertFile: opts.tlsCert,
        tlsKeyFile: opts.tlsKey,
        caCertFile: opts.caCert,
        caKeyFile: opts.caKey,
        adminToken: opts.adminToken,
        logger: { level: opts.logLevel },
        aggregateLabels: splitList(opts.aggregateLabels) ?? [],
      });
      print(`hub listening on ${hub.url} (data in ${resolve(opts.dataDir)}, ${hub.ctx.store.engine})`);
      print(`hub CA: ${hub.caFile} (sha256 ${hub.ctx.tls.caSha256})`);
      print(
        releaseKey
          ? `agent releases: signed with release key ${releaseKey.slice(-16)} (join tokens carry it)`
          : 'agent releases: none taken (no --release-key); sites joining now take no agent upgrades',
      );
      print((await import('../hub/routes/dashboard.ts')).dashboardNote(hub.url));
      if (hub.adminToken && !opts.adminToken) print(`admin token (shown once): ${hub.adminToken}`);
      const signal = untilSignal();
      await new Promise((r) => signal.addEventListener('abort', r));
      await hub.close();
    });
}
