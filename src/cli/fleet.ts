// Fleet-definition commands: `outpost plan` (what would change where, with diffs), `outpost explain`
// (why a bundle is or is not on a site) and `outpost source add|list|show|sync|delete` for git and OCI
// sources.

import { readFile } from 'node:fs/promises';
import type { Command } from '@commander-js/extra-typings';
import { OutpostError } from '../model/errors.ts';
import type { PlanResult, Problem, SyncResult } from '../model/fleet-wire.ts';
import { readBundleFiles } from './files.ts';
import { addListCommand, api, json, operatorOptions, outputOption, print } from './options.ts';
import { table } from './table.ts';

function problemLine(p: Problem): string {
  const where = p.file ? `${p.file}${p.line ? `:${p.line}` : ''}: ` : '';
  return `${where}${p.message} (${p.code})`;
}

function printPlan(plan: PlanResult): void {
  if (plan.commit) print(`commit ${plan.commit}`);
  if (plan.errors.length > 0) {
    for (const p of plan.errors) print(problemLine(p));
    return;
  }
  print(
    table(
      ['bundle', 'change', 'sites'],
      plan.bundles.map((b) => [b.name, b.change, b.sites]),
    ),
  );
  for (const s of plan.skipped ?? []) print(`${s.name} (${s.file}) not planned: ${s.reason}`);
  if (plan.sites.length === 0) {
    print('\nno site would change');
    return;
  }
  for (const s of plan.sites) {
    print(`\n${s.site} / ${s.bundle}: ${s.action}${s.error ? ` — ${s.error.message}` : ''}`);
    for (const o of s.added) print(`  + ${o}`);
    for (const o of s.removed) print(`  - ${o}`);
    for (const c of s.changed) {
      print(`  ~ ${c.object}`);
      for (const op of c.diff as Array<{ op: string; path: string; value?: unknown }>) {
        print(`      ${op.op} ${op.path}${'value' in op ? ` ${JSON.stringify(op.value)}` : ''}`);
      }
    }
  }
}

function printSync(name: string, r: SyncResult): void {
  const commit = r.commit ? ` ${r.commit.slice(0, 12)}` : '';
  if (r.status === 'synced') {
    print(
      `source ${name}: commit${commit} synced; changed: ${r.changed.join(', ') || 'none'}; deleted: ${r.deleted.join(', ') || 'none'}`,
    );
  } else if (r.status === 'unchanged') {
    print(`source ${name}: commit${commit} already synced`);
  } else {
    print(`source ${name}: commit${commit} ${r.status}`);
  }
  if (r.documents && r.documents.changed.length + r.documents.deleted.length > 0) {
    print(
      `  documents changed: ${r.documents.changed.join(', ') || 'none'}; deleted: ${r.documents.deleted.join(', ') || 'none'}`,
    );
  }
  for (const p of r.errors) print(`  ${problemLine(p)}`);
  for (const f of r.failed) print(`  ${f.bundle} on ${f.site}: ${f.message}`);
}

export function addFleetCommands(root: Command): void {
  operatorOptions(
    root
      .command('plan')
      .description('what would change on each site if these definitions shipped (nothing ships)'),
  )
    .option('-f, --file <path>', 'a directory of fleet definitions (each folder with a Bundle is one bundle)')
    .option('--source <name>', 'plan the head (or a commit) of a source instead')
    .option('--commit <sha>', 'with --source: the commit (default: the head of its branch or tag)')
    .addOption(outputOption())
    .action(async (opts) => {
      if (!opts.file === !opts.source)
        throw new OutpostError('request_invalid', 'give -f DIR or --source NAME');
      const hub = await api(opts);
      const plan = opts.file
        ? await hub.plan(await readBundleFiles(opts.file))
        : await hub.plan({ source: opts.source!, ...(opts.commit ? { commit: opts.commit } : {}) });
      if (opts.output === 'json') json(plan);
      else printPlan(plan);
      if (plan.errors.length > 0) process.exitCode = 1;
    });

  operatorOptions(
    root
      .command('explain')
      .description('why a bundle is or is not on a site: each selector term, the CEL result, include/exclude')
      .argument('<bundle>')
      .argument('<site>'),
  )
    .addOption(outputOption())
    .action(async (bundle, site, opts) => {
      const e = await (await api(opts)).explain(bundle, site);
      if (opts.output === 'json') return json(e);
      print(`${bundle} on ${site}: ${e.targeted ? 'targeted' : 'not targeted'} — ${e.reason}`);
      for (const r of e.selector.requirements) print(`  ${r.matched ? '✓' : '✗'} ${r.requirement}`);
      if (e.cel) {
        const result = e.cel.error !== undefined ? `error: ${e.cel.error}` : String(e.cel.result);
        print(`  CEL ${e.cel.expression} → ${result}`);
      }
      if (e.included) print('  included by name');
      if (e.excluded) print('  excluded by name');
      if (e.overlays.length > 0) print(`  overlays applied: ${e.overlays.join(', ')}`);
      if (e.renderError) print(`  cannot be rendered: ${e.renderError}`);
    });

  const source = root
    .command('source')
    .description('sources of fleet definitions: git repositories and OCI artifacts');
  operatorOptions(source.command('add').description('add a git or OCI source (admin)').argument('<name>'))
    .requiredOption(
      '--url <url>',
      'git: https://…, ssh://…, USER@HOST:PATH, file://… or a path on the hub; OCI: oci://HOST/REPOSITORY',
    )
    .option('--ref <ref>', 'git: branch or tag (default main); OCI: tag (default latest)')
    .option('--semver <range>', 'OCI: follow the highest tag in this range, e.g. ">=1.4.0 <2.0.0"')
    .option('--insecure', 'OCI: plain HTTP to the registry')
    .option(
      '--verify-key <file>',
      'OCI: a cosign public key (cosign.pub, read here); each revision must be signed with it',
    )
    .option('--path <path>', 'folder inside the repository or artifact', '')
    .option('--interval <seconds>', 'how often to poll', '60')
    .option('--username <name>', 'basic-auth user name (git over HTTP(S), OCI)')
    .option('--password-env <VAR>', "the hub's environment variable holding the password or token")
    .option('--token-env <VAR>', "git over HTTP(S): the hub's environment variable holding a bearer token")
    .option('--private-key-file <path>', 'git over SSH: the deploy key, a file on the hub')
    .option('--private-key-env <VAR>', "git over SSH: the hub's environment variable holding the deploy key")
    .option(
      '--known-hosts <file>',
      'git over SSH: a known_hosts file (read here) whose lines pin the server host key; required',
    )
    .option('--team <team>', 'the team that owns the bundles it brings')
    .addOption(outputOption())
    .action(async (name, opts) => {
      const auth = {
        ...(opts.username ? { username: opts.username } : {}),
        ...(opts.passwordEnv ? { passwordEnv: opts.passwordEnv } : {}),
        ...(opts.tokenEnv ? { tokenEnv: opts.tokenEnv } : {}),
        ...(opts.privateKeyFile ? { privateKeyFile: opts.privateKeyFile } : {}),
        ...(opts.privateKeyEnv ? { privateKeyEnv: opts.privateKeyEnv } : {}),
        ...(opts.knownHosts ? { knownHosts: await readFile(opts.knownHosts, 'utf8') } : {}),
      };
      const created = await (await api(opts)).addSource({
        name,
        ...(opts.team !== undefined ? { team: opts.team } : {}),
        url: opts.url,
        ...(opts.ref ? { ref: opts.ref } : {}),
        ...(opts.semver ? { semver: opts.semver } : {}),
        ...(opts.insecure ? { insecure: true } : {}),
        ...(opts.verifyKey ? { verifyKey: await readFile(opts.verifyKey, 'utf8') } : {}),
        path: opts.path,
        intervalSeconds: Number(opts.interval),
        auth,
      });
      if (opts.output === 'json') return json(created);
      const s = created.source;
      print(
        `source ${name} added: ${s.url} ${s.semver ?? s.ref}${s.path ? ` (${s.path})` : ''}, every ${s.intervalSeconds} s`,
      );
      print(`webhook: POST ${s.webhook} with X-Hub-Signature-256 (HMAC-SHA256 of the body) or`);
      print(`X-Outpost-Webhook-Secret; secret (shown once): ${created.webhookSecret}`);
    });
  addListCommand(
    source,
    'list sources and their last sync',
    (hub) => hub.sources(),
    ['name', 'url', 'ref', 'synced', 'rejected', 'error'],
    (s) => [
      s.name,
      s.url,
      s.semver ?? s.ref,
      s.synced?.commit.slice(0, 12) ?? '-',
      s.rejected?.commit.slice(0, 12) ?? '-',
      s.lastError ?? '',
    ],
  );
  operatorOptions(
    source
      .command('show')
      .description('a source, with the errors of its last rejected commit')
      .argument('<name>'),
  )
    .addOption(outputOption())
    .action(async (name, opts) => {
      const s = await (await api(opts)).source(name);
      if (opts.output === 'json') return json(s);
      print(
        `${s.name}: ${s.url} ${s.semver ?? s.ref}${s.path ? ` (${s.path})` : ''}, every ${s.intervalSeconds} s`,
      );
      if (s.verifyKey) print('signatures: cosign, verified with the source key');
      print(`synced: ${s.synced ? `${s.synced.commit} at ${s.synced.at}` : 'never'}`);
      if (s.lastError) print(`last fetch failed: ${s.lastError}`);
      if (s.rejected) {
        print(`rejected: ${s.rejected.commit} at ${s.rejected.at}`);
        for (const p of s.rejected.errors) print(`  ${problemLine(p)}`);
      }
    });
  operatorOptions(source.command('sync').description('fetch and sync a source now').argument('<name>'))
    .option('--force', 'read the commit again even if it was synced or rejected already')
    .addOption(outputOption())
    .action(async (name, opts) => {
      const r = await (await api(opts)).syncSource(name, Boolean(opts.force));
      if (opts.output === 'json') json(r);
      else printSync(name, r);
      if (r.status === 'rejected' || r.status === 'failed') process.exitCode = 1;
    });
  operatorOptions(
    source
      .command('delete')
      .description('remove a source; its bundles stay, managed by hand')
      .argument('<name>'),
  ).action(async (name, opts) => {
    await (await api(opts)).deleteSource(name);
    print(`source ${name} deleted; its bundles stay`);
  });
}
