// Who may do what: `outpost token` (bootstrap tokens new sites present once to register), `outpost
// apitoken` (tokens for operators and automation, by role) and `outpost audit` (who changed what).

import { type Command, Option } from '@commander-js/extra-typings';
import { describeBindings } from '../model/access.ts';
import { parseLabels } from './arguments.ts';
import { addListCommand, api, json, operatorOptions, outputOption, print, printList } from './options.ts';
import { labelsText } from './table.ts';

export function addBootstrapTokenCommands(root: Command): void {
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
    .option(
      '--relay <url...>',
      'relay URLs the agents call first (the hub when none answers)',
      [] as string[],
    )
    .addOption(outputOption())
    .action(async (opts) => {
      const created = await (await api(opts)).createBootstrapToken({
        ...(opts.relay.length > 0 ? { relays: opts.relay } : {}),
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
  addListCommand(
    token,
    'list bootstrap tokens',
    (hub) => hub.bootstrapTokens(),
    ['id', 'uses', 'expires', 'auto-approve', 'revoked', 'labels'],
    (t) => [
      t.id,
      `${t.uses}/${t.maxUses}`,
      t.expiresAt,
      String(t.autoApprove),
      String(t.revoked),
      labelsText(t.labels),
    ],
  );
  operatorOptions(token.command('revoke').description('revoke a bootstrap token').argument('<id>')).action(
    async (id, opts) => {
      await (await api(opts)).revokeBootstrapToken(id);
      print(`bootstrap token ${id} revoked`);
    },
  );
}

export function addApiTokenCommands(root: Command): void {
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
    .option('--sites <key=value...>', 'only the sites with these labels (e.g. region=west)', [] as string[])
    .option('--team <team>', "only this team's bundles may it change (and it owns those it makes)")
    .action(async (name, opts) => {
      const sites = parseLabels(opts.sites);
      const scoped = Object.keys(sites).length > 0 || opts.team !== undefined;
      const binding = {
        role: opts.role,
        ...(Object.keys(sites).length > 0 ? { sites: { matchLabels: sites } } : {}),
        ...(opts.team !== undefined ? { team: opts.team } : {}),
      };
      const created = await (await api(opts)).createApiToken(name, opts.role, scoped ? [binding] : undefined);
      print(
        `API token ${created.apiToken.name} (${describeBindings(created.apiToken.bindings)}), shown once: ${created.token}`,
      );
    });
  addListCommand(
    apitoken,
    'list API tokens',
    (hub) => hub.apiTokens(),
    ['id', 'name', 'reach', 'created', 'by', 'revoked'],
    (t) => [t.id, t.name, describeBindings(t.bindings), t.createdAt, t.createdBy, String(t.revoked)],
  );
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
      printList(opts.output, items, ['at', 'actor', 'action', 'target', 'source'], (a) => [
        a.at,
        a.actor,
        a.action,
        a.target,
        a.source,
      ]);
    });
}
