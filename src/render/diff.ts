// What changes on a site when its rendering changes: objects added, changed (with an RFC 6902 diff
// from what it has now) and removed, keyed like the agent keys them (group, kind, namespace, name).

import { createPatch, type Operation } from 'rfc6902';
import { describeRef, type KubeObject, refKey, refOf } from '../model/manifest.ts';
import { canonicalJson } from './digest.ts';

export interface ObjectChanges {
  added: string[];
  changed: Array<{ object: string; diff: Operation[] }>;
  removed: string[];
}

/**
 * @example objectChanges(currentObjects, nextObjects) // { added: ['ConfigMap pos/x'], changed: [...], removed: [] }
 */
export function objectChanges(before: readonly KubeObject[], after: readonly KubeObject[]): ObjectChanges {
  const old = new Map(before.map((o) => [refKey(refOf(o)), o]));
  const out: ObjectChanges = { added: [], changed: [], removed: [] };
  const seen = new Set<string>();
  for (const obj of after) {
    const key = refKey(refOf(obj));
    seen.add(key);
    const was = old.get(key);
    if (!was) out.added.push(describeRef(refOf(obj)));
    else if (canonicalJson(was) !== canonicalJson(obj)) {
      out.changed.push({ object: describeRef(refOf(obj)), diff: createPatch(was, obj) });
    }
  }
  for (const [key, obj] of old) if (!seen.has(key)) out.removed.push(describeRef(refOf(obj)));
  return out;
}
