// The options every operator command shares (hub URL, token, CA) and the output helpers, so each
// command file builds its commands the same way.

import { readFile } from 'node:fs/promises';
import { type Command, Option } from '@commander-js/extra-typings';
import { HubApi } from './hub-api.ts';
import { table } from './table.ts';

const defaultHub = 'https://127.0.0.1:7070';

// biome-ignore lint/suspicious/noExplicitAny: mirrors commander's own generic bounds
function operatorOptions<A extends any[], O extends Record<string, any>, G extends Record<string, any>>(
  cmd: Command<A, O, G>,
) {
  return cmd
    .addOption(new Option('--hub <url>', 'hub URL').env('OUTPOST_HUB').default(defaultHub))
    .addOption(new Option('--token <token>', 'API token').env('OUTPOST_TOKEN'))
    .addOption(
      new Option('--ca-file <path>', "the hub's CA certificate (DATA_DIR/ca.crt on the hub)").env(
        'OUTPOST_CA_FILE',
      ),
    );
}

export { operatorOptions };

export const outputOption = () =>
  new Option('-o, --output <format>', 'output format')
    .choices(['table', 'json'] as const)
    .default('table' as const);

export async function api(opts: { hub: string; token?: string; caFile?: string }): Promise<HubApi> {
  return new HubApi(opts.hub, opts.token, opts.caFile ? await readFile(opts.caFile, 'utf8') : undefined);
}

export function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

export function json(value: unknown): void {
  print(JSON.stringify(value, null, 2));
}

/** Prints what a list command read: the items as JSON with `-o json`, else a table with a row for each. */
export function printList<T>(
  output: 'table' | 'json',
  items: readonly T[],
  headers: readonly string[],
  row: (item: T) => ReadonlyArray<string | number>,
): void {
  if (output === 'json') json(items);
  else print(table(headers, items.map(row)));
}

/**
 * Adds `<parent> list`: reads the items from the hub, then prints them with printList.
 *
 * @example addListCommand(apitoken, 'list API tokens', (hub) => hub.apiTokens(), ['id', 'name'], (t) => [t.id, t.name]);
 */
export function addListCommand<T>(
  parent: Command,
  description: string,
  read: (hub: HubApi) => Promise<readonly T[]>,
  headers: readonly string[],
  row: (item: T) => ReadonlyArray<string | number>,
): void {
  operatorOptions(parent.command('list').description(description))
    .addOption(outputOption())
    .action(async (opts) => printList(opts.output, await read(await api(opts)), headers, row));
}
