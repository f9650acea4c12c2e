// `outpost bundle apply|list|delete`: bundles by hand, from a file or directory of YAML (a git source
// is the other way in: see ./fleet.ts).

import type { Command } from '@commander-js/extra-typings';
import { readBundleFiles } from './files.ts';
import { addListCommand, api, json, operatorOptions, outputOption, print } from './options.ts';
import { countsText } from './table.ts';

export function addBundleCommands(root: Command): void {
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
  addListCommand(
    bundle,
    'list bundles with their rollout state',
    (hub) => hub.bundles(),
    ['name', 'revision', 'objects', 'sites', 'states'],
    (b) => [b.name, b.revision, b.objects, b.sites, countsText(b.states)],
  );
  operatorOptions(
    bundle
      .command('delete')
      .description('unplace a bundle from every site; agents prune its objects')
      .argument('<name>'),
  ).action(async (name, opts) => {
    await (await api(opts)).deleteBundle(name);
    print(`bundle ${name} deleted; sites will prune its objects`);
  });
}
