// The `outpost` command: run a hub or an agent, and operate a fleet from the terminal. Reads print
// tables, or JSON with -o json; every failure prints the hub's error code and exits non-zero. The hub's
// code is loaded only by the commands that run one, so an agent process carries none of it.

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, Option } from '@commander-js/extra-typings';
import { Agent } from '../agent/agent.ts';
import { KubeCluster } from '../agent/kube/client.ts';
import { resolveKubeConnection } from '../agent/kube/config.ts';
import { describeError, OutpostError } from '../model/errors.ts';
import { readBundleFiles } from './files.ts';
import { HubApi } from './hub-api.ts';
import { countsText, labelsText, table } from './table.ts';

const defaultHub = 'http://127.0.0.1:7070';
const repoRoot = resolve(import.meta.dirname, '..', '..');

// biome-ignore lint/suspicious/noExplicitAny: mirrors commander's own generic bounds
function operatorOptions<A extends any[], O extends Record<string, any>, G extends Record<string, any>>(
  cmd: Command<A, O, G>,
) {
  return cmd
    .addOption(new Option('--hub <url>', 'hub URL').env('OUTPOST_HUB').default(defaultHub))
    .addOption(new Option('--token <token>', 'operator token').env('OUTPOST_TOKEN'));
}

const outputOption = () =>
  new Option('-o, --output <format>', 'output format')
    .choices(['table', 'json'] as const)
    .default('table' as const);

function api(opts: { hub: string; token?: string }): HubApi {
  return new HubApi(opts.hub, opts.token);
}

function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

function json(value: unknown): void {
  print(JSON.stringify(value, null, 2));
}

function logLine(message: string, fields?: Record<string, unknown>): void {
  const extra = fields
    ? ` ${Object.entries(fields)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ')}`
    : '';
  process.stderr.write(`${new Date().toISOString()} ${message}${extra}\n`);
}

function parseLabels(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i <= 0) throw new OutpostError('request_invalid', `a label is key=value, got "${p}"`);
    out[p.slice(0, i)] = p.slice(i + 1);
  }
  return out;
}

function untilSignal(): AbortSignal {
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return ac.signal;
}

export function program(): Command {
  const root = new Command('outpost')
    .description('Fleet manager for edge Kubernetes sites')
    .showHelpAfterError();

  root
    .command('hub')
    .description('run the hub (operator API, agent API) on embedded SQLite')
    .option('--data-dir <dir>', 'where the database and secrets live', 'outpost-data')
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:7070')
    .option('--log-level <level>', 'info, warn, error or debug', 'info')
    .action(async (opts) => {
      const { startHub } = await import('../hub/start.ts');
      const hub = await startHub({
        dataDir: opts.dataDir,
        listen: opts.listen,
        logger: { level: opts.logLevel },
      });
      print(`hub listening on ${hub.url} (data in ${resolve(opts.dataDir)})`);
      print(`operator token:     ${hub.operatorToken}`);
      print(`registration token: ${hub.registrationToken}`);
      const signal = untilSignal();
      await new Promise((r) => signal.addEventListener('abort', r));
      await hub.close();
    });

  root
    .command('agent')
    .description(
      "run a site's agent: pull the desired state from the hub and apply it to this site's cluster",
    )
    .addOption(new Option('--hub <url>', 'hub URL').env('OUTPOST_HUB').makeOptionMandatory())
    .addOption(new Option('--name <name>', 'site name').env('OUTPOST_SITE').makeOptionMandatory())
    .addOption(
      new Option('--registration-token <token>', 'token for the first registration').env(
        'OUTPOST_REGISTRATION_TOKEN',
      ),
    )
    .option('--label <key=value...>', 'labels the site registers with', [] as string[])
    .option('--state-dir <dir>', 'where the agent keeps its state (default: ./outpost-agent-NAME)')
    .option(
      '--kubeconfig <path>',
      'kubeconfig of the site cluster (default: $KUBECONFIG, in-cluster, ~/.kube/config)',
    )
    .option('--context <name>', 'kubeconfig context')
    .option('--local-page <host:port>', 'where the read-only local status page listens', '127.0.0.1:7071')
    .option('--no-local-page', 'serve no local status page')
    .action(async (opts) => {
      const conn = resolveKubeConnection(opts.kubeconfig, opts.context);
      const cluster = new KubeCluster(conn);
      logLine('agent starting', { site: opts.name, hub: opts.hub, cluster: conn.source });
      const agent = new Agent({
        hub: opts.hub,
        name: opts.name,
        registrationToken: opts.registrationToken,
        labels: parseLabels(opts.label),
        stateDir: opts.stateDir ?? `outpost-agent-${opts.name}`,
        cluster,
        localPage: opts.localPage,
        log: logLine,
      });
      await agent.run(untilSignal());
      cluster.close();
    });

  operatorOptions(root.command('sites').description('list sites, or show one').argument('[name]'))
    .addOption(outputOption())
    .action(async (name, opts) => {
      const hub = api(opts);
      if (name) {
        const site = await hub.site(name);
        if (opts.output === 'json') return json(site);
        print(`${site.name}  ${site.lifecycle}  ${site.connectivity}  labels: ${labelsText(site.labels)}`);
        print(`last seen ${site.lastSeen ?? 'never'}; desired ${site.desiredDigest ?? '-'}`);
        print('');
        print(
          table(
            ['bundle', 'revision', 'state', 'ready', 'message'],
            site.deployments.map((d) => [
              d.bundle,
              d.desiredRevision ?? '(removing)',
              d.state,
              `${d.counts.ready}/${d.counts.total}`,
              d.message,
            ]),
          ),
        );
        return;
      }
      const sites = await hub.sites();
      if (opts.output === 'json') return json(sites);
      print(
        table(
          ['name', 'lifecycle', 'connectivity', 'last seen', 'labels'],
          sites.map((s) => [
            s.name,
            s.lifecycle,
            s.connectivity,
            s.lastSeen ?? 'never',
            labelsText(s.labels),
          ]),
        ),
      );
    });

  operatorOptions(
    root
      .command('label')
      .description("set (key=value) or remove (key-) a site's labels; placement follows")
      .argument('<site>')
      .argument('<changes...>'),
  ).action(async (siteName, changes, opts) => {
    const hub = api(opts);
    const labels = { ...(await hub.site(siteName)).labels };
    for (const c of changes) {
      if (c.endsWith('-') && !c.includes('=')) delete labels[c.slice(0, -1)];
      else Object.assign(labels, parseLabels([c]));
    }
    const site = await hub.patchSite(siteName, { labels });
    print(`${site.name} labels: ${labelsText(site.labels)}`);
  });

  const bundle = root
    .command('bundle')
    .description('bundles: named sets of manifests placed on sites by labels');
  operatorOptions(
    bundle.command('apply').description('create or update a bundle from a file or directory of YAML'),
  )
    .requiredOption('-f, --file <path>', 'a YAML file or a directory of them')
    .addOption(outputOption())
    .action(async (opts) => {
      const result = await api(opts).applyBundle(await readBundleFiles(opts.file));
      if (opts.output === 'json') return json(result);
      print(
        result.changed
          ? `bundle ${result.bundle} revision ${result.revision} applied; placed on ${result.targeted} site(s)`
          : `bundle ${result.bundle} unchanged (revision ${result.revision}); placed on ${result.targeted} site(s)`,
      );
    });
  operatorOptions(bundle.command('list').description('list bundles with their rollout state'))
    .addOption(outputOption())
    .action(async (opts) => {
      const bundles = await api(opts).bundles();
      if (opts.output === 'json') return json(bundles);
      print(
        table(
          ['name', 'revision', 'objects', 'sites', 'states'],
          bundles.map((b) => [b.name, b.revision, b.objects, b.sites, countsText(b.states)]),
        ),
      );
    });
  operatorOptions(
    bundle
      .command('delete')
      .description('unplace a bundle from every site; agents prune its objects')
      .argument('<name>'),
  ).action(async (name, opts) => {
    await api(opts).deleteBundle(name);
    print(`bundle ${name} deleted; sites will prune its objects`);
  });

  operatorOptions(root.command('status').description('the fleet at a glance'))
    .addOption(outputOption())
    .action(async (opts) => {
      const s = await api(opts).status();
      if (opts.output === 'json') return json(s);
      print(`sites: ${s.sites.total}  (${countsText(s.sites.byConnectivity)})`);
      print(`deployments: ${s.deployments.total}  (${countsText(s.deployments.byState)})`);
      print('');
      print(
        table(
          ['bundle', 'revision', 'sites', 'states'],
          s.bundles.map((b) => [b.name, b.revision, b.sites, countsText(b.byState)]),
        ),
      );
    });

  root
    .command('demo')
    .description('run a hub on embedded SQLite with the example fleet loaded')
    .option('--data-dir <dir>', 'data directory (default: a new temporary one)')
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:7070')
    .action(async (opts) => {
      const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'outpost-demo-')));
      const { startHub } = await import('../hub/start.ts');
      const hub = await startHub({ dataDir, listen: opts.listen });
      const client = new HubApi(hub.url, hub.operatorToken);
      const example = join(repoRoot, 'examples', 'fleet', 'hello');
      const applied = await client.applyBundle(await readBundleFiles(example));
      print(`Outpost hub on ${hub.url} (SQLite in ${dataDir})`);
      print(`bundle ${applied.bundle} revision ${applied.revision} loaded from examples/fleet/hello`);
      print('');
      print('Next: connect a site (any Kubernetes cluster your kubeconfig reaches):');
      print(
        `  ./outpost agent --hub ${hub.url} --name store-1 --label region=west --registration-token ${hub.registrationToken}`,
      );
      print('and look at the fleet:');
      print(`  OUTPOST_HUB=${hub.url} OUTPOST_TOKEN=${hub.operatorToken} ./outpost status`);
      print('');
      print('Ctrl-C stops the hub.');
      const signal = untilSignal();
      await new Promise((r) => signal.addEventListener('abort', r));
      client.close();
      await hub.close();
    });

  return root;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof OutpostError) {
      process.stderr.write(`outpost: ${describeError(e)}\n`);
      return 1;
    }
    process.stderr.write(`outpost: ${(e as Error).message}\n`);
    return 1;
  }
}

if (import.meta.main) {
  process.exitCode = await main(process.argv);
}
