// spec.apply.ignoreDifferences at the site (Argo CD's conventions): the fields a bundle names by JSON
// pointer, and those that named field managers own, are left to the site's own controllers. They are
// not drift, and once the object exists they leave the agent's apply configuration, so server-side
// apply no longer counts the agent as their owner. Pure: it reads objects and managedFields.
//
// Leaving a field out of an apply configuration releases it, and a released field nobody else owns is
// removed (a Deployment's replicas would fall back to 1). So a field the agent still owns is first
// handed over: applied, at the value it has, by a field manager of its own (`outpost-handover`), the
// way Kubernetes documents handing replicas to an autoscaler. The next writer takes it from there.

import type { IgnoreDifferences } from '../../model/apply-options.ts';
import { groupOf, type KubeObject, type ObjectRef } from '../../model/manifest.ts';

/** Holds released fields at their value until another manager takes them. */
export const handoverManager = 'outpost-handover';

type Fields = Record<string, unknown>;
interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  fieldsV1?: Fields;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The rules that apply to one object. */
export function rulesFor(
  rules: readonly IgnoreDifferences[] | undefined,
  ref: ObjectRef,
): IgnoreDifferences[] {
  return (rules ?? []).filter(
    (r) =>
      (r.kind === '*' || r.kind === ref.kind) &&
      (r.group === '*' || (r.group ?? '') === groupOf(ref.apiVersion)) &&
      (!r.name || r.name === ref.name) &&
      (!r.namespace || r.namespace === ref.namespace),
  );
}

/** RFC 6901: '/a/b~1c' → ['a', 'b/c']. */
export function pointerTokens(pointer: string): string[] {
  return pointer
    .split('/')
    .slice(1)
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function valueAt(obj: unknown, tokens: readonly string[]): unknown {
  let node = obj;
  for (const t of tokens) {
    if (Array.isArray(node)) node = /^\d+$/.test(t) ? node[Number(t)] : undefined;
    else if (isRecord(node)) node = Object.hasOwn(node, t) ? node[t] : undefined;
    else return undefined;
  }
  return node;
}

function removeAt(obj: unknown, tokens: readonly string[]): void {
  const parent = valueAt(obj, tokens.slice(0, -1));
  const last = tokens.at(-1)!;
  if (Array.isArray(parent) && /^\d+$/.test(last)) parent.splice(Number(last), 1);
  else if (isRecord(parent)) delete parent[last];
}

/** The fieldsV1 trees of the managedFields entries `which` picks, merged. */
function fieldsOf(live: KubeObject, which: (e: ManagedFieldsEntry) => boolean): Fields {
  const merged: Fields = {};
  const merge = (into: Fields, from: Fields) => {
    for (const [k, v] of Object.entries(from)) {
      if (!isRecord(v)) continue;
      if (!isRecord(into[k])) into[k] = {};
      merge(into[k] as Fields, v);
    }
  };
  const entries = (live.metadata.managedFields ?? []) as ManagedFieldsEntry[];
  for (const e of entries) if (which(e) && isRecord(e.fieldsV1)) merge(merged, e.fieldsV1);
  return merged;
}

/** The fieldsV1 key of a list item: `k:{…}` for an item of a keyed list, `v:…` for a set's value. */
function itemKey(
  fields: Fields,
  item: unknown,
): { key: string; keyFields: Record<string, unknown> } | undefined {
  for (const key of Object.keys(fields)) {
    if (key.startsWith('k:')) {
      let ids: unknown;
      try {
        ids = JSON.parse(key.slice(2));
      } catch {
        continue;
      }
      if (isRecord(ids) && isRecord(item) && Object.entries(ids).every(([f, v]) => item[f] === v))
        return { key, keyFields: ids };
    } else if (key.startsWith('v:') && key.slice(2) === JSON.stringify(item)) return { key, keyFields: {} };
  }
  return undefined;
}

const ownsAll = (node: Fields) => Object.keys(node).every((k) => k === '.');

/**
 * `desired` less what the rules ignore on this object: the fields at the rules' pointers, and the fields
 * `live` says the rules' managers own. With no live object there is nothing to compare or keep, so the
 * object is created whole.
 */
export function withoutIgnored(
  desired: KubeObject,
  live: KubeObject | undefined,
  rules: readonly IgnoreDifferences[],
): KubeObject {
  if (!live || rules.length === 0) return desired;
  const out = structuredClone(desired);
  for (const r of rules) for (const p of r.jsonPointers ?? []) removeAt(out, pointerTokens(p));
  const managers = new Set(rules.flatMap((r) => r.managedFieldsManagers ?? []));
  if (managers.size > 0) {
    const theirs = fieldsOf(live, (e) => e.manager !== undefined && managers.has(e.manager));
    dropOwned(out, theirs, new Set());
  }
  return out;
}

/** Removes from `node` the fields `fields` owns; the key fields of list items stay, they name the item. */
function dropOwned(node: unknown, fields: Fields, keyFields: ReadonlySet<string>): void {
  if (Array.isArray(node)) {
    for (let i = node.length - 1; i >= 0; i--) {
      const match = itemKey(fields, node[i]);
      if (!match) continue;
      const sub = fields[match.key] as Fields;
      if (match.key.startsWith('v:')) node.splice(i, 1);
      else dropOwned(node[i], sub, new Set(Object.keys(match.keyFields)));
    }
    return;
  }
  if (!isRecord(node)) return;
  for (const key of Object.keys(node)) {
    if (key === 'apiVersion' || key === 'kind' || keyFields.has(key)) continue;
    const sub = fields[`f:${key}`];
    if (!isRecord(sub)) continue;
    if (ownsAll(sub)) delete node[key];
    else dropOwned(node[key], sub, new Set());
  }
}

/**
 * The handover configuration: the ignored pointer fields `live` still has that the agent's own field
 * manager owns, at their live values, each list item named by its keys. Undefined when there is none.
 */
export function handoverOf(
  live: KubeObject,
  rules: readonly IgnoreDifferences[],
  ownManager: string,
): KubeObject | undefined {
  const ours = fieldsOf(live, (e) => e.manager === ownManager && e.operation === 'Apply');
  let config: KubeObject = {
    apiVersion: live.apiVersion,
    kind: live.kind,
    metadata: {
      name: live.metadata.name,
      ...(live.metadata.namespace ? { namespace: live.metadata.namespace } : {}),
    },
  };
  let any = false;
  for (const r of rules)
    for (const p of r.jsonPointers ?? []) {
      // built on a copy, kept only when the whole path is ours: no empty parents left behind
      const scratch = structuredClone(config);
      if (graft(scratch, live, ours, pointerTokens(p))) {
        config = scratch;
        any = true;
      }
    }
  return any ? config : undefined;
}

/** Copies the field at `tokens` from `liveNode` into `target` when `fields` owns it, or anything under it. */
function graft(
  target: Record<string, unknown>,
  liveNode: unknown,
  fields: Fields,
  tokens: readonly string[],
): boolean {
  const [token, ...rest] = tokens;
  if (token === undefined || !isRecord(liveNode) || !Object.hasOwn(liveNode, token)) return false;
  const sub = fields[`f:${token}`];
  if (!isRecord(sub)) return false;
  const value = liveNode[token];
  if (rest.length === 0 || ownsAll(sub)) {
    target[token] = structuredClone(value);
    return true;
  }
  if (Array.isArray(value)) {
    const item = /^\d+$/.test(rest[0]!) ? value[Number(rest[0])] : undefined;
    const match = item === undefined ? undefined : itemKey(sub, item);
    if (!match) return false;
    if (!Array.isArray(target[token])) target[token] = [];
    const list = target[token] as unknown[];
    if (match.key.startsWith('v:')) {
      list.push(structuredClone(item));
      return true;
    }
    const itemFields = sub[match.key] as Fields;
    let entry = list.find(
      (e) => isRecord(e) && Object.entries(match.keyFields).every(([f, v]) => e[f] === v),
    ) as Record<string, unknown> | undefined;
    if (!entry) {
      entry = { ...match.keyFields };
      list.push(entry);
    }
    if (rest.length === 1 || ownsAll(itemFields)) {
      Object.assign(entry, structuredClone(item));
      return true;
    }
    return graft(entry, item, itemFields, rest.slice(1));
  }
  if (!isRecord(target[token])) target[token] = {};
  return graft(target[token] as Record<string, unknown>, value, sub, rest);
}
