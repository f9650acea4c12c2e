// JSON merge patch (RFC 7386): null deletes, objects merge, anything else replaces. Keys that could
// reach an object's prototype (__proto__, constructor) are dropped, so a patch can never pollute one.

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

const forbidden = new Set(['__proto__', 'constructor']);

/**
 * Returns `target` with `patch` merged in; neither argument is changed.
 * @example mergePatch({ a: 1, b: { c: 2 } }, { b: { c: null, d: 3 } }) // { a: 1, b: { d: 3 } }
 */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isRecord(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (forbidden.has(key)) continue;
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}
