// `outpost relay`: run a regional relay near a region's sites until Ctrl-C; `outpost relays` makes,
// lists and revokes relays at the hub (an admin makes one and hands its join token to the relay).

import type { Command } from '@commander-js/extra-typings';
import { Relay } from '../relay/relay.ts';
import type { LabelSelector } from '../select/labels.ts';
import { formatSelector } from '../select/labels.ts';
import { number, parseJson, parseLabels, positive } from './arguments.ts';
import { logLine, untilSignal } from './long-running.ts';
import { addListCommand, api, json, operatorOptions, outputOption, print } from './options.ts';

export function addRelayCommands(root: Command): void {
  root
    .command('relay')
    .description(
      "run a regional relay: serve its sites' desired state from a cache and send their reports up",
    )
    .option('--join-token <token>', 'from `outpost relays create`; needed until enrolled')
    .option('--hub <url>', 'the hub as this relay reaches it (default: the URL in the join token)')
    .option('--listen <host:port>', 'where agents connect', '0.0.0.0:7443')
    .option('--state-dir <dir>', 'where the relay keeps its identity, cache and outbox', 'outpost-relay')
    .option('--tls-name <name...>', 'host names or addresses agents reach the relay by', [] as string[])
    .option(
      '--outbox-budget-mib <n>',
      'disk budget of the report outbox; past it the oldest are dropped',
      '256',
    )
    .option(
      '--report-refresh-seconds <n>',
      "a site's report repeating the last one forwarded goes up once that is this old (0: every report)",
      '300',
    )
    .action(async (opts) => {
      const relay = new Relay({
        joinToken: opts.joinToken ?? process.env.OUTPOST_RELAY_JOIN_TOKEN,
        hub: opts.hub,
        listen: opts.listen,
        stateDir: opts.stateDir,
        names: opts.tlsName,
        outboxBudgetBytes: Math.floor(positive(opts.outboxBudgetMib, '--outbox-budget-mib') * 1024 * 1024),
        reportRefreshSeconds: number(opts.reportRefreshSeconds, '--report-refresh-seconds'),
        log: logLine,
      });
      await relay.run(untilSignal());
    });

  const relays = root.command('relays').description('regional relays: make, list and revoke them');
  operatorOptions(
    relays
      .command('create')
      .description('make a relay for the sites a selector picks and print its join token (shown once)')
      .argument('<name>'),
  )
    .option('-l, --selector <key=value...>', 'the sites it may serve (matchLabels)', [] as string[])
    .option('--selector-json <json>', 'a full label selector: {"matchLabels":…, "matchExpressions":[…]}')
    .addOption(outputOption())
    .action(async (name, opts) => {
      const selector = (
        opts.selectorJson
          ? parseJson(opts.selectorJson, '--selector-json')
          : { matchLabels: parseLabels(opts.selector) }
      ) as LabelSelector;
      const created = await (await api(opts)).createRelay({ name, selector });
      if (opts.output === 'json') return json(created);
      print(`relay ${created.relay.name} for sites ${formatSelector(selector)}`);
      print(`join token (shown once): ${created.joinToken}`);
    });
  addListCommand(
    relays,
    'list relays',
    (hub) => hub.relays(),
    [
      'name',
      'selector',
      'enrolled',
      'last seen',
      'lost since',
      'sites via',
      'connected',
      'outbox',
      'dropped',
      'revoked',
    ],
    (r) => [
      r.name,
      formatSelector(r.selector),
      String(r.enrolled),
      r.lastSeen ?? '-',
      r.lostSince ?? '-',
      String(r.sites),
      String(r.status?.connectedSites ?? '-'),
      String(r.status?.outbox.pending ?? '-'),
      String(r.status?.outbox.dropped ?? '-'),
      String(r.revoked),
    ],
  );
  operatorOptions(
    relays
      .command('show')
      .description('one relay: its connectivity, lag, outbox and the sites that come through it')
      .argument('<name>'),
  )
    .addOption(outputOption())
    .action(async (name, opts) => {
      const r = await (await api(opts)).relay(name);
      if (opts.output === 'json') return json(r);
      print(`relay ${r.name} for sites ${formatSelector(r.selector)}${r.revoked ? ' (revoked)' : ''}`);
      print(
        r.lostSince
          ? `LOST since ${r.lostSince} (last seen ${r.lastSeen})`
          : `last seen ${r.lastSeen ?? 'never'}`,
      );
      if (r.status) {
        const { outbox } = r.status;
        print(
          `feed lag ${r.status.feedLagSeconds.toFixed(1)} s, ${r.status.connectedSites} agents connected`,
        );
        print(`outbox ${outbox.pending} items (${outbox.bytes} bytes), ${outbox.dropped} dropped`);
        const { reports } = r.status;
        if (reports) {
          print(
            `reports since its start: ${reports.forwarded} forwarded, ${reports.keptBack} kept back unchanged`,
          );
        }
      }
      const more = r.sites > r.siteNames.length ? ` (first ${r.siteNames.length})` : '';
      print(`${r.sites} sites come through it${more}: ${r.siteNames.join(', ') || '-'}`);
    });
  operatorOptions(
    relays.command('revoke').description('revoke a relay: its sites fall back to the hub').argument('<name>'),
  ).action(async (name, opts) => {
    await (await api(opts)).revokeRelay(name);
    print(`relay ${name} revoked`);
  });
}
