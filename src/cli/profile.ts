// `outpost profile apply|list|show|rollouts|rollout`: site profiles (Kubernetes, OS, agent, add-ons and
// apps as one versioned stack), how many sites conform to each, and the rollouts of their revisions.

import type { Command } from '@commander-js/extra-typings';
import { OutpostError } from '../model/errors.ts';
import type { ProfileRolloutDetail, ProfileRolloutView, ProfileView } from '../model/profile-wire.ts';
import { type RolloutAction, rolloutActions } from '../model/wire.ts';
import { readBundleFiles } from './files.ts';
import { addListCommand, api, json, operatorOptions, outputOption, print, printList } from './options.ts';
import { table } from './table.ts';

const states = ['Conformant', 'Upgrading', 'Behind', 'Ahead', 'Unknown'] as const;
const header = ['name', 'revision', 'source', ...states.map((s) => s.toLowerCase())];

function row(p: ProfileView): (string | number)[] {
  return [p.name, p.revision, p.source ?? '-', ...states.map((s) => p.counts[s] ?? 0)];
}

const rolloutHeader = ['id', 'profile', 'from', 'to', 'phase', 'wave', 'reason'];

function rolloutRow(r: ProfileRolloutView): (string | number)[] {
  return [r.id, r.profile, r.fromRevision, r.toRevision, r.phase, r.wave || '-', r.reason ?? ''];
}

function printRollout(r: ProfileRolloutDetail): void {
  print(table(rolloutHeader, [rolloutRow(r)]));
  print('');
  print(
    table(
      ['wave', 'sites', 'statuses'],
      r.waves.map((w) => [
        w.name,
        w.sites,
        Object.entries(w.statuses)
          .map(([status, n]) => `${status}=${n}`)
          .join(' ') || '-',
      ]),
    ),
  );
  if (r.failed.length > 0) {
    print('');
    print(
      table(
        ['failed site', 'wave', 'why'],
        r.failed.map((f) => [f.site, f.wave, f.reason]),
      ),
    );
  }
}

export function addProfileCommands(root: Command): void {
  const profile = root
    .command('profile')
    .description('site profiles: the whole stack of a site, versioned as one, and conformance to it');
  addListCommand(
    profile,
    'every profile with its sites by conformance',
    (hub) => hub.profiles(),
    header,
    row,
  );
  operatorOptions(
    profile
      .command('apply')
      .description('store Profile documents as new revisions (the same document again changes nothing)')
      .requiredOption('-f, --file <path>', 'a YAML file or a folder of them holding kind: Profile documents'),
  )
    .addOption(outputOption())
    .action(async (opts) => {
      const applied = await (await api(opts)).applyProfiles(await readBundleFiles(opts.file));
      if (opts.output === 'json') return json(applied);
      for (const p of applied)
        print(`profile ${p.name} revision ${p.revision}${p.changed ? ' stored' : ' unchanged'}`);
    });
  operatorOptions(
    profile
      .command('show')
      .description('one profile: its revisions and every site off it, with why')
      .argument('<name>'),
  )
    .addOption(outputOption())
    .action(async (name, opts) => {
      const client = await api(opts);
      const [detail, conformance] = await Promise.all([
        client.profile(name),
        client.profileConformance(name),
      ]);
      if (opts.output === 'json') return json({ ...detail, conformance });
      print(table(header, [row(detail)]));
      print('');
      print(
        table(
          ['revision', 'created', 'digest'],
          detail.revisions.map((r) => [r.revision, r.createdAt, r.digest.slice(0, 19)]),
        ),
      );
      const off = conformance.sites.filter((s) => s.state !== 'Conformant');
      print('');
      print(
        table(
          ['site', 'state', 'layer', 'behind', 'why'],
          off.flatMap((s) =>
            s.layers
              .filter((l) => l.state !== 'Conformant')
              .map((l) => [s.site, s.state, l.layer, l.behind.join(',') || '-', l.detail]),
          ),
        ),
      );
      for (const c of conformance.conflicts) print(`conflict: ${c.message}`);
    });
  operatorOptions(
    profile
      .command('rollouts')
      .description('rollouts of profile revisions, newest first')
      .option('--profile <name>', 'only this profile’s'),
  )
    .addOption(outputOption())
    .action(async (opts) =>
      printList(
        opts.output,
        await (await api(opts)).profileRollouts(opts.profile),
        rolloutHeader,
        rolloutRow,
      ),
    );
  operatorOptions(
    profile
      .command('rollout')
      .description(
        'one profile rollout, wave by wave with its failed sites and why; with an action, steer it (never rollback: Kubernetes cannot go back a minor)',
      )
      .argument('<id>')
      .argument('[action]', `one of ${rolloutActions.filter((a) => a !== 'rollback').join(', ')}`)
      .option('--reason <text>', 'why, recorded in the audit log'),
  )
    .addOption(outputOption())
    .action(async (id, action, opts) => {
      const client = await api(opts);
      if (action !== undefined && !(rolloutActions as readonly string[]).includes(action))
        throw new OutpostError(
          'request_invalid',
          `unknown action ${action}: one of ${rolloutActions.join(', ')}`,
        );
      const r =
        action === undefined
          ? await client.profileRollout(id)
          : await client.profileRolloutAction(id, action as RolloutAction, opts.reason);
      if (opts.output === 'json') return json(r);
      printRollout(r);
    });
}
