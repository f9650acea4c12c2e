// The sites page's filter box: one line in kubectl's label-selector syntax, extended to status fields
// and properties, turned into the selector and `where` of POST /api/v1/query.
//   region=west, format in (mini,max), !legacy      labels (a plain key is a label)
//   connectivity=Offline, state!=Ready, revision>=3  status fields
//   property:lanes>4, label:tier notin (gold)        any field by its query name
//   bundle=pos                                        states and revisions of that bundle
// A line starting with `{` is a `where` in JSON, as the API takes it.

import type { LabelSelector } from '../select/labels.ts';
import { statusFields, validateWhere, type Where } from '../select/where.ts';

export interface SiteFilter {
  selector?: LabelSelector;
  where?: Where;
  bundle?: string;
}

export type FilterResult = { filter: SiteFilter } | { error: string };

/** Splits on commas outside parentheses. */
function terms(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth = Math.max(0, depth - 1);
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((t) => t.trim()).filter((t) => t !== '');
}

function isFieldName(key: string): boolean {
  return key.includes(':') || (statusFields as readonly string[]).includes(key);
}

/** Numbers compare as numbers for properties and revisions; labels and other status fields are text. */
function typedValue(key: string, raw: string): string | number {
  const v = raw.trim();
  if ((key.startsWith('property:') || key === 'revision') && /^-?\d+(\.\d+)?$/.test(v)) return Number(v);
  return v;
}

const keyPattern = '[A-Za-z0-9_.\\-/:]+';
const setRe = new RegExp(`^(${keyPattern})\\s+(in|notin)\\s*\\(([^)]*)\\)$`, 'i');
const compareRe = new RegExp(`^(${keyPattern})\\s*(==|=|!=|<=|>=|<|>)\\s*(.*)$`);
const existsRe = new RegExp(`^(!?)(${keyPattern})$`);

/**
 * @example parseFilter('region=west, connectivity!=Online')
 * // { filter: { selector: { matchLabels: { region: 'west' } },
 * //             where: { field: 'connectivity', op: '!=', value: 'Online' } } }
 */
export function parseFilter(text: string): FilterResult {
  const line = text.trim();
  if (line === '') return { filter: {} };
  if (line.startsWith('{')) {
    let where: unknown;
    try {
      where = JSON.parse(line);
    } catch (e) {
      return { error: `not JSON: ${(e as Error).message}` };
    }
    const problems = validateWhere(where);
    if (problems.length > 0) return { error: `${problems[0]!.path}: ${problems[0]!.message}` };
    return { filter: { where: where as Where } };
  }
  const matchLabels: Record<string, string> = {};
  const matchExpressions: NonNullable<LabelSelector['matchExpressions']>[number][] = [];
  const wheres: Where[] = [];
  let bundle: string | undefined;
  for (const term of terms(line)) {
    const set = setRe.exec(term);
    if (set) {
      const key = set[1]!;
      const negated = set[2]!.toLowerCase() === 'notin';
      const values = set[3]!
        .split(',')
        .map((v) => v.trim())
        .filter((v) => v !== '');
      if (values.length === 0) return { error: `"${term}": name at least one value in the parentheses` };
      if (isFieldName(key)) {
        wheres.push({
          field: key,
          op: negated ? 'notIn' : 'in',
          values: values.map((v) => typedValue(key, v)),
        });
      } else matchExpressions.push({ key, operator: negated ? 'NotIn' : 'In', values });
      continue;
    }
    const cmp = compareRe.exec(term);
    if (cmp) {
      const key = cmp[1]!;
      const op = cmp[2] === '==' ? '=' : (cmp[2] as '=' | '!=' | '<' | '<=' | '>' | '>=');
      const raw = cmp[3]!.trim();
      if (raw === '') return { error: `"${term}": a value is missing after ${op}` };
      if (key === 'bundle' && op === '=') {
        bundle = raw;
        continue;
      }
      if (op === '<' || op === '<=' || op === '>' || op === '>=') {
        const value = Number(raw);
        if (!Number.isFinite(value)) return { error: `"${term}": ${op} compares numbers` };
        wheres.push({ field: isFieldName(key) ? key : `property:${key}`, op, value });
      } else if (isFieldName(key)) {
        wheres.push({ field: key, op, value: typedValue(key, raw) });
      } else if (op === '=') matchLabels[key] = raw;
      else matchExpressions.push({ key, operator: 'NotIn', values: [raw] });
      continue;
    }
    const exists = existsRe.exec(term);
    if (exists) {
      const key = exists[2]!;
      const negated = exists[1] === '!';
      if (isFieldName(key)) wheres.push({ field: key, op: negated ? 'notExists' : 'exists' });
      else matchExpressions.push({ key, operator: negated ? 'DoesNotExist' : 'Exists' });
      continue;
    }
    return { error: `"${term}" is not a filter term; try key=value, key in (a,b), key, !key or field>n` };
  }
  const filter: SiteFilter = {};
  if (Object.keys(matchLabels).length > 0 || matchExpressions.length > 0) {
    filter.selector = {
      ...(Object.keys(matchLabels).length > 0 ? { matchLabels } : {}),
      ...(matchExpressions.length > 0 ? { matchExpressions } : {}),
    };
  }
  if (wheres.length === 1) filter.where = wheres[0]!;
  else if (wheres.length > 1) filter.where = { all: wheres };
  if (filter.where) {
    const problems = validateWhere(filter.where);
    if (problems.length > 0) return { error: `${problems[0]!.path}: ${problems[0]!.message}` };
  }
  if (bundle !== undefined) filter.bundle = bundle;
  return { filter };
}
