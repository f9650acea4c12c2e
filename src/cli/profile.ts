// `outpost profile apply|list|show`: site profiles (Kubernetes, OS, agent, add-ons and apps as one
// versioned stack) and how many sites conform to each; `show` lists the sites off their profile and why.

import type { Command } from '@commander-js/extra-typings';
import type { ProfileView } from '../model/profile-wire.ts';
import { readBundleFiles } from './files.ts';
import { addListCommand, api, json, operatorOptions, outputOption, print } from './options.ts';
import { table } from './table.ts';

const states = ['Conformant', 'Upgrading', 'Behind', 'Ahead', 'Unknown'] as const;
const header = ['name', 'revision', 'source', ...states.map((s) => s.toLowerCase())];

function row(p: ProfileView): (string | number)[] {
  return [p.name, p.revision, p.source ?? '-', ...states.map((s) => p.counts[s] ?? 0)];
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
}
