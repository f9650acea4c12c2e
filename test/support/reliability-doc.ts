// docs/reliability.md is written by the commands that measure it: the fuzz runner and the chaos suite
// each own a marked section of it and replace that section, leaving the prose around it as it is.

import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';

export const reliabilityDoc = resolve(import.meta.dirname, '../../docs/reliability.md');

/**
 * Replaces the text between `<!-- name:begin -->` and `<!-- name:end -->` in docs/reliability.md.
 * @example await writeReliabilitySection('fuzz', table)
 */
export async function writeReliabilitySection(name: 'fuzz' | 'chaos', markdown: string): Promise<void> {
  const { text, from, to, begin } = await locate(name);
  await writeFile(
    reliabilityDoc,
    `${text.slice(0, from + begin.length)}\n${markdown.trim()}\n${text.slice(to)}`,
  );
}

/** The text between `<!-- name:begin -->` and `<!-- name:end -->` in docs/reliability.md, trimmed. */
export async function readReliabilitySection(name: 'fuzz' | 'chaos'): Promise<string> {
  const { text, from, to, begin } = await locate(name);
  return text.slice(from + begin.length, to).trim();
}

async function locate(name: 'fuzz' | 'chaos') {
  const text = await readFile(reliabilityDoc, 'utf8');
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const from = text.indexOf(begin);
  const to = text.indexOf(end);
  if (from < 0 || to < from) throw new Error(`${reliabilityDoc} has no ${begin} … ${end} section`);
  return { text, from, to, begin };
}

/** A markdown table cell: pipes escaped, one line. */
export function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}
