// Reading the fleet: `outpost status` (counts at a glance), `outpost query` (sites filtered, or grouped
// and aggregated, page by page) and `outpost attention` (the sites that most need someone, and why).

import type { Command } from '@commander-js/extra-typings';
import type { QueryRequest } from '../model/wire.ts';
import { parseJson, parseLabels, splitList } from './arguments.ts';
import { api, json, operatorOptions, outputOption, print, printList } from './options.ts';
import { countsText, labelsText, table } from './table.ts';

export function addStatusCommands(root: Command): void {
  operatorOptions(root.command('status').description('the fleet at a glance'))
    .addOption(outputOption())
    .action(async (opts) => {
      const hub = await api(opts);
      const [s, profiles, relays] = await Promise.all([hub.status(), hub.profiles(), hub.relays()]);
      const lostRelays = relays.filter((r) => r.lostSince !== null && !r.revoked);
      if (opts.output === 'json') return json({ ...s, profiles, lostRelays: lostRelays.map((r) => r.name) });
      print(`sites: ${s.sites.total}  (${countsText(s.sites.byConnectivity)})`);
      for (const r of lostRelays) {
        print(
          `relay ${r.name} lost since ${r.lostSince}: its sites are Stale via it until they fall back to the hub`,
        );
      }
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
      if (profiles.length > 0) {
        print('');
        print(
          table(
            ['profile', 'revision', 'conformance'],
            profiles.map((p) => [p.name, p.revision, countsText(p.counts)]),
          ),
        );
      }
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
      if (opts.output === 'table' && items.length === 0) return print('no site needs attention');
      printList(opts.output, items, ['site', 'reason', 'since', 'connectivity', 'detail'], (i) => [
        i.site,
        i.reason,
        i.since,
        i.connectivity,
        i.detail,
      ]);
    });
}
