// Sites: `outpost approve|reject|decommission` (a site's registration and retirement), `outpost sites`
// (the list, or one site with its deployments and recent events) and `outpost label`.

import type { Command } from '@commander-js/extra-typings';
import { parseLabels } from './arguments.ts';
import { eventLine } from './events.ts';
import { api, json, operatorOptions, outputOption, print, printList } from './options.ts';
import { labelsText, table } from './table.ts';

export function addRegistrationCommands(root: Command): void {
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
}

export function addSiteCommands(root: Command): void {
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
        if (site.droppedReports > 0) {
          print(`reports dropped at the site because its outbox was full: ${site.droppedReports}`);
        }
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
      printList(opts.output, sites, ['name', 'lifecycle', 'connectivity', 'last seen', 'labels'], (s) => [
        s.name,
        s.lifecycle,
        s.connectivity,
        s.lastSeen ?? 'never',
        labelsText(s.labels),
      ]);
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
}
