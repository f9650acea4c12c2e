// CEL placement expressions over a site: `labels` (map of strings), `properties` (map of any JSON
// value) and `name`. Compiled once per bundle revision; an evaluation that errors is reported as that
// site's placement error, never read as "not placed". Every expression has a bounded cost (cel-cost.ts).

import { CelScalar, celEnv, isCelError, mapType, parse, plan } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import { inputSizeOf, largestInputWithin, shapeOf } from './cel-cost.ts';

export interface CelSite {
  name: string;
  labels: Readonly<Record<string, string>>;
  properties: Readonly<Record<string, unknown>>;
}

export type CelOutcome = { value: boolean } | { error: string };

export interface CompiledCel {
  expression: string;
  evaluate(site: CelSite): CelOutcome;
}

export class CelCompileError extends Error {
  override name = 'CelCompileError';
}

/** Limits on an expression, so compiling and running it stay cheap whatever is written. */
export const celLimits = {
  length: 4096,
  depth: 64,
  /** comprehensions (exists, all, map, filter, exists_one) inside one another */
  nesting: 3,
  /** steps of one evaluation (see cel-cost.ts): a step takes 0.1 to 1 µs, so at most ~0.1 s */
  steps: 100_000,
  /** an expression must fit the step budget for sites whose labels, properties and name measure this */
  typicalSite: 1024,
};

const env = celEnv({
  variables: {
    labels: mapType(CelScalar.STRING, CelScalar.STRING),
    properties: mapType(CelScalar.STRING, CelScalar.DYN),
    name: CelScalar.STRING,
  },
  funcs: strings,
});

/** JSON to CEL inputs: objects become maps and whole numbers CEL ints, so `properties.lanes + 1` works. */
function toCel(v: unknown): unknown {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? BigInt(v) : v;
  if (Array.isArray(v)) return v.map(toCel);
  if (v !== null && typeof v === 'object') {
    return new Map(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, toCel(x)]));
  }
  return v;
}

// Errors that no site's data can cause: an unknown variable or function. Found by evaluating against
// an empty site; data-dependent errors (a missing label) are left for each site's evaluation.
const staticError = /unresolved attribute|unbound function/;

function messagesOf(e: unknown, depth = 0): string[] {
  if (!(e instanceof Error) || depth > 8) return [];
  const cause = (e as { cause?: unknown }).cause;
  const nested = Array.isArray(cause)
    ? cause.flatMap((c) => messagesOf(c, depth + 1))
    : messagesOf(cause, depth + 1);
  return [e.message, ...nested];
}

/**
 * Compiles an expression; throws CelCompileError for syntax errors and unknown names.
 * @example compileCel("labels.region == 'west' && properties.lanes >= 4").evaluate(site)
 */
export function compileCel(expression: string): CompiledCel {
  if (expression.length > celLimits.length) {
    throw new CelCompileError(
      `CEL: the expression is ${expression.length} characters; at most ${celLimits.length}`,
    );
  }
  let run: (ctx: Record<string, unknown>) => unknown;
  let largestSite: number;
  try {
    const parsed = parse(expression);
    const shape = shapeOf(parsed.expr);
    if (shape.depth > celLimits.depth) {
      throw new CelCompileError(`CEL: the expression nests ${shape.depth} deep; at most ${celLimits.depth}`);
    }
    if (shape.nesting > celLimits.nesting) {
      throw new CelCompileError(
        `CEL: ${shape.nesting} comprehensions (exists, all, map, filter) inside one another; at most ${celLimits.nesting}`,
      );
    }
    largestSite = largestInputWithin(parsed.expr, celLimits.steps);
    if (largestSite < celLimits.typicalSite) {
      throw new CelCompileError(
        `CEL: the expression could take more than ${celLimits.steps} steps on a site with ${celLimits.typicalSite} characters of labels and properties; simplify it (fewer nested comprehensions, no repeated replace or join)`,
      );
    }
    run = plan(env, parsed) as unknown as typeof run;
  } catch (e) {
    if (e instanceof CelCompileError) throw e;
    throw new CelCompileError(`CEL: ${(e as Error).message.replace(/^<input>:/, '')}`);
  }
  const evaluate = (site: CelSite): CelOutcome => {
    const size = Math.max(inputSizeOf(site.labels), inputSizeOf(site.properties), site.name.length);
    if (size > largestSite) {
      return {
        error: `CEL: this site's labels and properties (size ${size}) are too large for the expression's cost limit (${largestSite})`,
      };
    }
    let r: unknown;
    try {
      r = run({
        labels: new Map(Object.entries(site.labels)),
        properties: toCel(site.properties),
        name: site.name,
      });
    } catch (e) {
      return { error: `CEL: ${(e as Error).message}` };
    }
    if (isCelError(r)) return { error: `CEL: ${r.message}` };
    if (typeof r !== 'boolean')
      return { error: `CEL: the expression gave ${typeof r === 'bigint' ? 'an int' : typeof r}, not a bool` };
    return { value: r };
  };
  const probe = (() => {
    try {
      return run({ labels: new Map(), properties: new Map(), name: '' });
    } catch (e) {
      return e;
    }
  })();
  if (isCelError(probe) || probe instanceof Error) {
    const found = messagesOf(probe).find((m) => staticError.test(m));
    if (found) throw new CelCompileError(`CEL: ${found}`);
  } else if (typeof probe !== 'boolean') {
    throw new CelCompileError('CEL: a placement expression must give a bool');
  }
  return { expression, evaluate };
}
