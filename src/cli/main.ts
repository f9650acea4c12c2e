// The `outpost` command: run a hub or an agent, and operate a fleet from the terminal. Reads print
// tables, or JSON with -o json; every failure prints the hub's error code and exits non-zero. The hub's
// code is loaded only by the commands that run one, so an agent process carries none of it.

import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Command, Option } from '@commander-js/extra-typings';
import { Agent } from '../agent/agent.ts';
import { KubeCluster } from '../agent/kube/client.ts';
import { resolveKubeConnection } from '../agent/kube/config.ts';
import { describeError, OutpostError } from '../model/errors.ts';
import type { EventView, QueryRequest } from '../model/wire.ts';
import { followEvents } from '../net/follow-events.ts';
import { addDemoCommand } from './demo.ts';
import { readBundleFiles } from './files.ts';
import { addFleetCommands } from './fleet.ts';
import { api, json, operatorOptions, outputOption, print } from './options.ts';
import { addRolloutCommands } from './rollout.ts';
import { addSimCommand } from './sim.ts';
import { addSloCommands } from './slo.ts';
import { countsText, labelsText, table } from './table.ts';

function logLine(message: string, fields?: Record<string, unknown>): void {
  const extra = fields
    ? ` ${Object.entries(fields)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ')}`
    : '';
  process.stderr.write(`${new Date().toISOString()} ${message}${extra}\n`);
}

function positive(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0)
    throw new OutpostError('request_invalid', `${flag} takes a positive number, got "${text}"`);
  return n;
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

function splitList(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  return parts.length > 0 ? parts : undefined;
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new OutpostError('request_invalid', `${what} is not JSON: ${(e as Error).message}`);
  }
}

function eventLine(e: EventView): string {
  const about = [e.site, e.bundle].filter(Boolean).join('/');
  return `${e.time}  #${e.id}  ${e.type.padEnd(12)} ${about.padEnd(24)} ${e.message}`;
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
    .option('--db-pool-size <n>', 'PostgreSQL connections per replica', '10')
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
    .action(async (opts) => {
      const { startHub } = await import('../hub/start.ts');
      const hub = await startHub({
        alerts: {
          receivers: Object.entries(parseLabels(opts.alertWebhook ?? [])).map(([name, url]) => ({
            name,
            url,
          })),
        },
        ...(opts.remoteWriteUrl ? { telemetry: { remoteWrite: { url: opts.remoteWriteUrl } } } : {}),
        ...(opts.metricsPublic ? { metricsPublic: true } : {}),
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
      print((await import('../hub/routes/dashboard.ts')).dashboardNote(hub.url));
      if (hub.adminToken && !opts.adminToken) print(`admin token (shown once): ${hub.adminToken}`);
      const signal = untilSignal();
      await new Promise((r) => signal.addEventListener('abort', r));
      await hub.close();
    });

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

  const token = root
    .command('token')
    .description('bootstrap tokens: what new sites present once to register');
  operatorOptions(
    token.command('create').description('create a bootstrap token and print its join token (shown once)'),
  )
    .option('--description <text>', 'what it is for')
    .option('--label <key=value...>', 'labels granted to sites that use it', [] as string[])
    .option('--auto-approve', 'sites using it are Active at once instead of Pending')
    .option('--max-uses <n>', 'how many sites may use it', '1')
    .option('--ttl <seconds>', 'lifetime in seconds', String(24 * 3600))
    .addOption(outputOption())
    .action(async (opts) => {
      const created = await (await api(opts)).createBootstrapToken({
        description: opts.description,
        labels: parseLabels(opts.label),
        autoApprove: Boolean(opts.autoApprove),
        maxUses: Number(opts.maxUses),
        ttlSeconds: Number(opts.ttl),
      });
      if (opts.output === 'json') return json(created);
      print(
        `bootstrap token ${created.token.id}: ${created.token.maxUses} use(s), expires ${created.token.expiresAt}`,
      );
      print(`join token (shown once): ${created.joinToken}`);
    });
  operatorOptions(token.command('list').description('list bootstrap tokens'))
    .addOption(outputOption())
    .action(async (opts) => {
      const items = await (await api(opts)).bootstrapTokens();
      if (opts.output === 'json') return json(items);
      print(
        table(
          ['id', 'uses', 'expires', 'auto-approve', 'revoked', 'labels'],
          items.map((t) => [
            t.id,
            `${t.uses}/${t.maxUses}`,
            t.expiresAt,
            String(t.autoApprove),
            String(t.revoked),
            labelsText(t.labels),
          ]),
        ),
      );
    });
  operatorOptions(token.command('revoke').description('revoke a bootstrap token').argument('<id>')).action(
    async (id, opts) => {
      await (await api(opts)).revokeBootstrapToken(id);
      print(`bootstrap token ${id} revoked`);
    },
  );

  operatorOptions(root.command('approve').description('approve a pending site').argument('<site>'))
    .option('--rename <name>', 'give the site another name')
    .option('--label <key=value...>', "set the site's labels")
    .action(async (siteName, opts) => {
      const site = await (await api(opts)).approve(siteName, {
        ...(opts.rename ? { name: opts.rename } : {}),
        ...(opts.label ? { labels: parseLabels(opts.label) } : {}),
      });
      print(`${site.name} approved (${site.lifecycle}); labels: ${labelsText(site.labels)}`);
    });
  operatorOptions(root.command('reject').description('reject a pending site').argument('<site>')).action(
    async (siteName, opts) => {
      await (await api(opts)).reject(siteName);
      print(`${siteName} rejected`);
    },
  );
  operatorOptions(
    root
      .command('decommission')
      .description("revoke a site's certificates and retire it; its workloads are unplaced")
      .argument('<site>'),
  ).action(async (siteName, opts) => {
    const site = await (await api(opts)).decommission(siteName);
    print(`${site.name} is ${site.lifecycle}; its certificates are revoked`);
  });

  const apitoken = root
    .command('apitoken')
    .description('API tokens for operators and automation (viewer, operator, admin)');
  operatorOptions(
    apitoken.command('create').description('create an API token (shown once)').argument('<name>'),
  )
    .addOption(
      new Option('--role <role>', 'what it may do')
        .choices(['viewer', 'operator', 'admin'] as const)
        .default('viewer' as const),
    )
    .action(async (name, opts) => {
      const created = await (await api(opts)).createApiToken(name, opts.role);
      print(`API token ${created.apiToken.name} (${created.apiToken.role}), shown once: ${created.token}`);
    });
  operatorOptions(apitoken.command('list').description('list API tokens'))
    .addOption(outputOption())
    .action(async (opts) => {
      const items = await (await api(opts)).apiTokens();
      if (opts.output === 'json') return json(items);
      print(
        table(
          ['id', 'name', 'role', 'created', 'by', 'revoked'],
          items.map((t) => [t.id, t.name, t.role, t.createdAt, t.createdBy, String(t.revoked)]),
        ),
      );
    });
  operatorOptions(apitoken.command('revoke').description('revoke an API token').argument('<id>')).action(
    async (id, opts) => {
      await (await api(opts)).revokeApiToken(id);
      print(`API token ${id} revoked`);
    },
  );

  operatorOptions(root.command('audit').description('who changed what, newest first'))
    .option('--limit <n>', 'how many entries', '50')
    .addOption(outputOption())
    .action(async (opts) => {
      const items = await (await api(opts)).audit(Number(opts.limit));
      if (opts.output === 'json') return json(items);
      print(
        table(
          ['at', 'actor', 'action', 'target', 'source'],
          items.map((a) => [a.at, a.actor, a.action, a.target, a.source]),
        ),
      );
    });

  operatorOptions(root.command('sites').description('list sites, or show one').argument('[name]'))
    .addOption(outputOption())
    .action(async (name, opts) => {
      const hub = await api(opts);
      if (name) {
        const site = await hub.site(name);
        if (opts.output === 'json') return json(site);
        print(`${site.name}  ${site.lifecycle}  ${site.connectivity}  labels: ${labelsText(site.labels)}`);
        print(
          `last seen ${site.lastSeen ?? 'never'}; last report ${site.lastReport ?? 'never'}; desired ${site.desiredDigest ?? '-'}`,
        );
        if (site.attention) {
          print(
            `needs attention: ${site.attention.reason} since ${site.attention.since}: ${site.attention.detail}`,
          );
        }
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
        for (const d of site.deployments) {
          for (const o of d.notReady) print(`  ${d.bundle}: ${o.object} not ready: ${o.reason}`);
        }
        if (site.events.length > 0) {
          print('');
          for (const e of site.events) print(eventLine(e));
          if (site.moreEvents) print(`(older events: outpost events --site ${site.name} --limit 1000)`);
        }
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
    const hub = await api(opts);
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
    .option('--supersede', "a new revision's rollout starts at once instead of waiting for the running one")
    .addOption(outputOption())
    .action(async (opts) => {
      const files = await readBundleFiles(opts.file);
      const result = await (await api(opts)).applyBundle({
        ...files,
        ...(opts.supersede ? { supersede: true } : {}),
      });
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
      const bundles = await (await api(opts)).bundles();
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
    await (await api(opts)).deleteBundle(name);
    print(`bundle ${name} deleted; sites will prune its objects`);
  });

  operatorOptions(root.command('status').description('the fleet at a glance'))
    .addOption(outputOption())
    .action(async (opts) => {
      const s = await (await api(opts)).status();
      if (opts.output === 'json') return json(s);
      print(`sites: ${s.sites.total}  (${countsText(s.sites.byConnectivity)})`);
      print(`deployments: ${s.deployments.total}  (${countsText(s.deployments.byState)})`);
      print('');
      print(
        table(
          ['bundle', 'revision', 'sites', 'states', 'ready at revision'],
          s.bundles.map((b) => [
            b.name,
            b.revision,
            b.sites,
            countsText(b.byState),
            `${b.currentRevision.byState.Ready ?? 0}/${b.sites}`,
          ]),
        ),
      );
      if (s.labels.length === 0) return;
      print('');
      print(
        table(
          ['label', 'sites', 'connectivity', 'states'],
          s.labels.map((l) => [
            `${l.label}=${l.value}`,
            l.sites,
            countsText(l.byConnectivity),
            countsText(l.byState),
          ]),
        ),
      );
    });

  operatorOptions(
    root
      .command('query')
      .description('query the fleet: filter sites, or group and aggregate them (POST /api/v1/query)'),
  )
    .option('-l, --selector <key=value...>', 'label equality requirements (matchLabels)', [] as string[])
    .option('--selector-json <json>', 'a full label selector: {"matchLabels":…, "matchExpressions":[…]}')
    .option('--connectivity <list>', 'Online,Stale,Offline,Expired (any of)')
    .option('--state <list>', 'deployment states (any of)')
    .option('--lifecycle <list>', 'Pending,Active,Decommissioned (any of)')
    .option('--bundle <name>', "count that bundle's deployments (state and revision become theirs)")
    .option('--revision <list>', 'revisions (any of; needs --bundle or --group-by bundle)')
    .option('--where <json>', 'a where expression, e.g. {"field":"property:lanes","op":">","value":4}')
    .option('-g, --group-by <list>', 'fields to group by, e.g. label:region,connectivity')
    .option('-a, --aggregate <list>', 'count, sum|avg|min|max(property:KEY) (with --group-by)')
    .option('--sort <field>', 'sort field; prefix - for descending')
    .option('--limit <n>', 'rows per page (1-1000)')
    .option('--cursor <cursor>', 'continue after a previous page')
    .option('--all', 'follow the cursor to the last page')
    .addOption(outputOption())
    .action(async (opts) => {
      const hub = await api(opts);
      const req: QueryRequest = {};
      const matchLabels = parseLabels(opts.selector);
      const selector = opts.selectorJson ? parseJson(opts.selectorJson, '--selector-json') : undefined;
      if (selector || Object.keys(matchLabels).length > 0) {
        const sel = (selector ?? {}) as { matchLabels?: Record<string, string> };
        req.selector = {
          ...sel,
          matchLabels: { ...sel.matchLabels, ...matchLabels },
        } as QueryRequest['selector'];
      }
      const list = <T>(v: string | undefined) => splitList(v) as T | undefined;
      const connectivity = list<QueryRequest['connectivity']>(opts.connectivity);
      if (connectivity) req.connectivity = connectivity;
      const state = list<QueryRequest['state']>(opts.state);
      if (state) req.state = state;
      const lifecycle = list<QueryRequest['lifecycle']>(opts.lifecycle);
      if (lifecycle) req.lifecycle = lifecycle;
      if (opts.bundle) req.bundle = opts.bundle;
      const revision = splitList(opts.revision)?.map(Number);
      if (revision) req.revision = revision;
      if (opts.where) req.where = parseJson(opts.where, '--where');
      const groupBy = splitList(opts.groupBy);
      if (groupBy) req.groupBy = groupBy;
      const aggregates = opts.aggregate?.match(/[a-z]+\([^)]*\)|[^,]+/g)?.map((a) => a.trim());
      if (aggregates) req.aggregates = aggregates;
      if (opts.sort) req.sort = opts.sort;
      if (opts.limit) req.limit = Number(opts.limit);
      if (opts.cursor) req.cursor = opts.cursor;
      const pages = [];
      for (;;) {
        const page = await hub.query(req);
        pages.push(page);
        if (!opts.all || !page.nextCursor) break;
        req.cursor = page.nextCursor;
      }
      const sites = pages.flatMap((p) => p.sites ?? []);
      const groups = pages.flatMap((p) => p.groups ?? []);
      const nextCursor = pages[pages.length - 1]?.nextCursor ?? null;
      if (opts.output === 'json') return json(groupBy ? { groups, nextCursor } : { sites, nextCursor });
      if (groupBy) {
        const names = req.aggregates ?? ['count'];
        print(
          table(
            [...groupBy, ...names],
            groups.map((g) => [
              ...groupBy.map((k) => String(g.key[k] ?? '<none>')),
              ...names.map((n) => (n === 'count' ? g.count : String(g.values[n] ?? '-'))),
            ]),
          ),
        );
      } else {
        print(
          table(
            ['name', 'connectivity', 'state', 'attention', 'last seen', 'labels'],
            sites.map((s) => [
              s.name,
              s.connectivity,
              s.state ?? '-',
              s.attention ?? '-',
              s.lastSeen ?? 'never',
              labelsText(s.labels),
            ]),
          ),
        );
      }
      if (nextCursor) print(`more: --cursor ${nextCursor}`);
    });

  operatorOptions(root.command('attention').description('the sites that most need attention, and why'))
    .option('--limit <n>', 'how many sites', '20')
    .addOption(outputOption())
    .action(async (opts) => {
      const items = await (await api(opts)).attention(Number(opts.limit));
      if (opts.output === 'json') return json(items);
      if (items.length === 0) return print('no site needs attention');
      print(
        table(
          ['site', 'reason', 'since', 'connectivity', 'detail'],
          items.map((i) => [i.site, i.reason, i.since, i.connectivity, i.detail]),
        ),
      );
    });

  operatorOptions(root.command('events').description('fleet events; --watch follows them as they happen'))
    .option('--site <name>', 'only events about this site')
    .option('--type <type>', 'only events of this type')
    .option('--limit <n>', 'how many recent events to show first', '50')
    .option('-w, --watch', 'keep following new events (Ctrl-C stops)')
    .addOption(outputOption())
    .action(async (opts) => {
      const hub = await api(opts);
      const filter = { ...(opts.site ? { site: opts.site } : {}), ...(opts.type ? { type: opts.type } : {}) };
      const recent = await hub.events({ ...filter, limit: Number(opts.limit) });
      const show = (e: EventView) =>
        opts.output === 'json' ? print(JSON.stringify(e)) : print(eventLine(e));
      if (!opts.watch && opts.output === 'json') return json(recent.items);
      for (const e of recent.items) show(e);
      if (!opts.watch) return;
      const { url, headers, ca } = hub.eventStream(filter);
      await followEvents(url, {
        headers,
        ca,
        lastEventId: String(recent.lastId),
        signal: untilSignal(),
        onMessage: (m) => show(JSON.parse(m.data) as EventView),
        onError: (e) => logLine('event stream interrupted; reconnecting', { error: e.message }),
      });
    });

  addSimCommand(root);
  addDemoCommand(root);
  addRolloutCommands(root);
  addFleetCommands(root);
  addSloCommands(root);
  return root;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv);
    // a command may have set a failing exit code without throwing (a plan with errors, say)
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
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
