// `outpost rollout list|show|pause|resume|promote|approve|abort|rollback|retry`: watch a bundle's
// rollouts and steer them; each action is queued at the hub and applied at once. `outpost rollout
// strategy list|apply|delete`: the named strategies a bundle's spec.rollout may name.

import { readFile } from 'node:fs/promises';
import type { Command } from '@commander-js/extra-typings';
import { parse } from 'yaml';
import { OutpostError } from '../model/errors.ts';
import type { RolloutAction, RolloutDetail } from '../model/wire.ts';
import { addListCommand, api, json, operatorOptions, outputOption, print, printList } from './options.ts';
import { countsText, table } from './table.ts';

function printRollout(r: RolloutDetail): void {
  print(`rollout ${r.id}: ${r.bundle} r${r.fromRevision} → r${r.toRevision}  ${r.phase}, wave ${r.wave}`);
  if (r.reason) print(`reason: ${r.reason}`);
  if (r.waitingOffline > 0) print(`waiting offline: ${r.waitingOffline}`);
  if (r.pendingActions.length > 0) print(`queued: ${r.pendingActions.join(', ')}`);
  print('');
  print(
    table(
      ['wave', 'sites', 'statuses'],
      r.waves.map((w) => [w.name, w.sites, countsText(w.statuses)]),
    ),
  );
  // an older hub sends no gate results
  const gates = r.gates ?? [];
  if (gates.length === 0) return;
  print('');
  print(
    table(
      ['gate', 'now', 'threshold', 'baseline', 'verdict', 'reason'],
      gates.map((g) => [
        g.gate,
        g.observed ?? '-',
        `${g.op} ${g.threshold}`,
        g.baseline ?? '-',
        g.result,
        g.reason,
      ]),
    ),
  );
}

const actions: Array<[string, RolloutAction, string]> = [
  ['pause', 'pause', 'stop starting sites'],
  ['resume', 'resume', 'carry on (accepting the failures so far)'],
  ['promote', 'promote', 'end the current wave now: skip its bake or approval'],
  ['approve', 'approve', 'start the next wave (manual approval)'],
  ['abort', 'abort', 'stop for good, leaving every site as it is'],
  ['rollback', 'rollback', 'send every site that got the new revision back to the old one'],
  ['retry', 'retryFailed', 'put failed sites back in line'],
];

export function addRolloutCommands(root: Command): void {
  const rollout = root
    .command('rollout')
    .description('rollouts: a bundle revision reaching its sites in waves');
  operatorOptions(rollout.command('list').description('rollouts, newest first'))
    .option('--bundle <name>', 'only this bundle')
    .addOption(outputOption())
    .action(async (opts) => {
      const items = await (await api(opts)).rollouts(opts.bundle);
      printList(opts.output, items, ['id', 'bundle', 'revisions', 'phase', 'wave', 'reason'], (r) => [
        r.id,
        r.bundle,
        `${r.fromRevision}→${r.toRevision}`,
        r.phase,
        r.wave,
        r.reason ?? '',
      ]);
    });
  operatorOptions(
    rollout
      .command('start')
      .description("roll out a bundle's latest revision (queued behind a running rollout unless --supersede)")
      .argument('<bundle>'),
  )
    .option('--strategy <file>', "a YAML or JSON strategy (default: the bundle's spec.rollout, else canary)")
    .option('--supersede', "start at once, superseding the bundle's running rollout")
    .addOption(outputOption())
    .action(async (bundle, opts) => {
      const strategy = opts.strategy ? await readStrategy(opts.strategy) : undefined;
      const r = await (await api(opts)).startRollout({
        bundle,
        ...(strategy ? { strategy } : {}),
        ...(opts.supersede ? { supersede: true } : {}),
      });
      if (opts.output === 'json') return json(r);
      printRollout(r);
    });
  operatorOptions(rollout.command('show').description('a rollout, wave by wave').argument('<id>'))
    .addOption(outputOption())
    .action(async (id, opts) => {
      const r = await (await api(opts)).rollout(id);
      if (opts.output === 'json') return json(r);
      printRollout(r);
    });
  const strategy = rollout
    .command('strategy')
    .description("named rollout strategies: built in, made here, or from a source's fleet repository");
  addListCommand(
    strategy,
    'every named strategy and where it comes from',
    (hub) => hub.strategies(),
    ['name', 'from', 'waves'],
    (s) => [
      s.name,
      s.builtin ? 'built in' : s.source ? `source ${s.source}` : 'API',
      JSON.stringify(s.strategy.waves ?? 'canary, 10%, rest'),
    ],
  );
  operatorOptions(
    strategy
      .command('apply')
      .description('create or replace a named strategy from a YAML or JSON file')
      .argument('<name>')
      .requiredOption('-f, --file <path>', 'the strategy: waves, maxFailures, gates, … (see README)'),
  )
    .addOption(outputOption())
    .action(async (name, opts) => {
      const view = await (await api(opts)).applyStrategy({ name, strategy: await readStrategy(opts.file) });
      if (opts.output === 'json') return json(view);
      print(`rollout strategy ${name} applied; bundles may name it in spec.rollout`);
    });
  operatorOptions(
    strategy.command('delete').description('delete a named strategy').argument('<name>'),
  ).action(async (name, opts) => {
    await (await api(opts)).deleteStrategy(name);
    print(`rollout strategy ${name} deleted`);
  });
  for (const [name, action, description] of actions) {
    operatorOptions(rollout.command(name).description(description).argument('<id>'))
      .addOption(outputOption())
      .action(async (id, opts) => {
        const r = await (await api(opts)).rolloutAction(id, action);
        if (opts.output === 'json') return json(r);
        printRollout(r);
      });
  }
}

async function readStrategy(file: string): Promise<Record<string, unknown>> {
  const doc = parse(await readFile(file, 'utf8'), { version: '1.1' }) as unknown;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new OutpostError('request_invalid', `${file}: a strategy must be a mapping`);
  }
  return doc as Record<string, unknown>;
}
