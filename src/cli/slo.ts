// `outpost slo list|get|apply|delete`: service level objectives per bundle, their error budgets and
// burn-rate alerts. `apply` reads SloSpec documents (YAML or JSON, several per file) and creates or
// replaces each by name.

import { readFile } from 'node:fs/promises';
import type { Command } from '@commander-js/extra-typings';
import { parseAllDocuments } from 'yaml';
import { OutpostError } from '../model/errors.ts';
import type { SloSpec, SloView } from '../model/slo-wire.ts';
import { formatSelector, type LabelSelector } from '../select/labels.ts';
import { addListCommand, api, json, operatorOptions, outputOption, print } from './options.ts';
import { table } from './table.ts';

const pct = (n: number | null) => (n === null ? '-' : `${(n * 100).toFixed(3)}%`);
const num = (n: number | null) => (n === null ? '-' : n.toFixed(2));

function row(s: SloView): (string | number)[] {
  return [
    s.name,
    s.bundle,
    s.selector ? formatSelector(s.selector as LabelSelector) : '(all)',
    pct(s.objective),
    s.window,
    pct(s.attainment),
    pct(s.budgetRemaining),
    `${num(s.burn.fast)} / ${num(s.burn.slow)}`,
    s.alert,
    s.sites,
  ];
}
const header = [
  'name',
  'bundle',
  'scope',
  'objective',
  'window',
  'attained',
  'budget left',
  'burn 1h/6h',
  'alert',
  'sites',
];

async function readSpecs(file: string): Promise<SloSpec[]> {
  const text = await readFile(file, 'utf8');
  const specs: SloSpec[] = [];
  for (const doc of parseAllDocuments(text, { version: '1.1' })) {
    if (doc.errors.length > 0) {
      const e = doc.errors[0]!;
      throw new OutpostError('request_invalid', e.message, { file, line: e.linePos?.[0]?.line });
    }
    const value = doc.toJS();
    if (value !== null && value !== undefined) specs.push(value as SloSpec);
  }
  if (specs.length === 0) throw new OutpostError('request_invalid', 'no SLO in the file', { file });
  return specs;
}

export function addSloCommands(root: Command): void {
  const slo = root.command('slo').description('service level objectives: error budgets and burn-rate alerts');
  addListCommand(slo, 'every SLO with its budget and alert state', (hub) => hub.slos(), header, row);
  operatorOptions(
    slo.command('get').description('one SLO with the sites spending most of its budget').argument('<name>'),
  )
    .addOption(outputOption())
    .action(async (name, opts) => {
      const s = await (await api(opts)).slo(name);
      if (opts.output === 'json') return json(s);
      print(table(header, [row(s)]));
      if (s.description) print(`\n${s.description}`);
      print('');
      print(
        table(
          ['site', 'budget left', 'bad rate'],
          s.worstSites.map((w) => [w.site, pct(w.budgetRemaining), pct(w.errorRate)]),
        ),
      );
    });
  operatorOptions(
    slo
      .command('apply')
      .description('create or replace SLOs from a YAML or JSON file')
      .requiredOption(
        '-f, --file <path>',
        'SloSpec documents: name, bundle, selector?, objective, window, sli.kind',
      ),
  )
    .addOption(outputOption())
    .action(async (opts) => {
      const client = await api(opts);
      const applied: SloView[] = [];
      for (const spec of await readSpecs(opts.file)) applied.push(await client.applySlo(spec));
      if (opts.output === 'json') return json(applied);
      for (const s of applied) print(`slo ${s.name} applied (${s.sites} sites in scope)`);
    });
  operatorOptions(
    slo.command('delete').description('delete an SLO, its history and its alerts').argument('<name>'),
  ).action(async (name, opts) => {
    await (await api(opts)).deleteSlo(name);
    print(`slo ${name} deleted`);
  });
}
