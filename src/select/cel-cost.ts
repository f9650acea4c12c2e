// An upper bound on the work a CEL expression can do, worked out from its syntax tree before it runs:
// @bufbuild/cel has no cost limit, and a placement expression runs for every site on every placement,
// so one that could run for seconds (nested comprehensions, a chain of replace()) must be refused.

import type { parse } from '@bufbuild/cel';

type Expr = ReturnType<typeof parse>['expr'];

/** Work in steps (one node evaluated, one character copied or compared) and the size of the value made. */
interface Bound {
  cost: number;
  /** characters of a string, or elements (counted with their own sizes) of a list or map */
  size: number;
}

export interface CelShape {
  depth: number;
  /** comprehensions (exists, all, map, filter, exists_one) nested in one another */
  nesting: number;
}

/** How deep the tree goes, and how deeply comprehensions nest; iterative, so any tree can be measured. */
export function shapeOf(root: Expr): CelShape {
  let depth = 0;
  let nesting = 0;
  const pending: Array<{ e: Expr; d: number; n: number }> = [{ e: root, d: 1, n: 0 }];
  while (pending.length > 0) {
    const { e, d, n } = pending.pop()!;
    depth = Math.max(depth, d);
    nesting = Math.max(nesting, n);
    for (const child of childrenOf(e)) {
      pending.push({ e: child, d: d + 1, n: n + (e.exprKind.case === 'comprehensionExpr' ? 1 : 0) });
    }
  }
  return { depth, nesting };
}

function childrenOf(e: Expr): Expr[] {
  const k = e.exprKind;
  const present = (list: Array<Expr | undefined>) => list.filter((x): x is Expr => x !== undefined);
  switch (k.case) {
    case 'selectExpr':
      return present([k.value.operand]);
    case 'callExpr':
      return present([k.value.target, ...k.value.args]);
    case 'listExpr':
      return k.value.elements;
    case 'structExpr':
      return present(
        k.value.entries.flatMap((en) => [
          en.keyKind.case === 'mapKey' ? en.keyKind.value : undefined,
          en.value,
        ]),
      );
    case 'comprehensionExpr': {
      const c = k.value;
      return present([c.iterRange, c.accuInit, c.loopCondition, c.loopStep, c.result]);
    }
    default:
      return [];
  }
}

const times = (a: number, b: number) => (a === 0 || b === 0 ? 0 : a * b);
const sum = (bounds: readonly Bound[], f: (b: Bound) => number) => bounds.reduce((n, b) => n + f(b), 0);

// Functions whose result is one small value (a bool, a number, a time) and whose work is constant.
const constantWork = new Set([
  '_&&_',
  '_||_',
  '!_',
  '@not_strictly_false',
  '-_',
  '_-_',
  '_*_',
  '_/_',
  '_%_',
  'size',
  'timestamp',
  'duration',
  'bool',
  'int',
  'uint',
  'double',
  'type',
  'charAt',
]);
// Functions that read their operands once and give a small value.
const linearWork = new Set([
  '_==_',
  '_!=_',
  '_<_',
  '_<=_',
  '_>_',
  '_>=_',
  '@in',
  'contains',
  'startsWith',
  'endsWith',
  'indexOf',
  'lastIndexOf',
]);
// Functions that copy their target (or operands) into a value of about the same size.
const copying = new Set(['lowerAscii', 'upperAscii', 'trim', 'substring', 'string', 'bytes', 'dyn']);

function call(fn: string, operands: Bound[]): Bound {
  const work = sum(operands, (b) => b.cost);
  const all = sum(operands, (b) => b.size);
  const target = operands[0]?.size ?? 0;
  const arg = (i: number) => operands[i]?.size ?? 0;
  if (constantWork.has(fn)) return { cost: work + 1, size: 1 };
  if (linearWork.has(fn)) return { cost: work + all + 1, size: 1 };
  if (copying.has(fn)) return { cost: work + all + 1, size: target };
  switch (fn) {
    case '_+_':
      // lists concatenate lazily and strings as ropes: what reads the result pays for its size
      return { cost: work + 1, size: all };
    case '_?_:_':
      return { cost: work + 1, size: Math.max(arg(1), arg(2)) };
    case '_[_]':
      return { cost: work + 1, size: target };
    case 'matches':
      // RE2: time grows with the text times the pattern
      return { cost: work + times(target + 1, arg(1) + 1), size: 1 };
    case 'replace': {
      // every occurrence (each character, for an empty pattern) may become the replacement, and each
      // replacement copies the string made so far
      const size = target + times(target + 1, arg(2));
      return { cost: work + times(target + 1, size + 1), size };
    }
    case 'split':
      return { cost: work + 2 * target + 1, size: 2 * target + 1 };
    case 'join': {
      const size = target + times(target, arg(1));
      return { cost: work + size + 1, size };
    }
    case 'strings.quote':
      return { cost: work + 6 * target + 2, size: 6 * target + 2 };
    case 'format': {
      // a number may print as up to ~128 characters (binary, or 100 decimal places)
      const size = target + 128 * arg(1);
      return { cost: work + size + 1, size };
    }
    default:
      // an accessor of a timestamp or duration, or a function not priced here: linear and copying
      return { cost: work + all + 1, size: all };
  }
}

function estimate(e: Expr, input: number, scope: ReadonlyMap<string, number>): Bound {
  const k = e.exprKind;
  switch (k.case) {
    case 'constExpr': {
      const c = k.value.constantKind;
      return { cost: 1, size: c.case === 'stringValue' || c.case === 'bytesValue' ? c.value.length : 1 };
    }
    case 'identExpr':
      return { cost: 1, size: scope.get(k.value.name) ?? input };
    case 'selectExpr': {
      const operand = k.value.operand ? estimate(k.value.operand, input, scope) : { cost: 0, size: 0 };
      return { cost: operand.cost + 1, size: k.value.testOnly ? 1 : operand.size };
    }
    case 'callExpr': {
      const c = k.value;
      const operands = [...(c.target ? [c.target] : []), ...c.args].map((x) => estimate(x, input, scope));
      return call(c.function, operands);
    }
    case 'listExpr': {
      const items = k.value.elements.map((x) => estimate(x, input, scope));
      return { cost: sum(items, (b) => b.cost) + 1, size: sum(items, (b) => b.size) + 1 };
    }
    case 'structExpr': {
      const items = childrenOf(e).map((x) => estimate(x, input, scope));
      return { cost: sum(items, (b) => b.cost) + 1, size: sum(items, (b) => b.size) + 1 };
    }
    case 'comprehensionExpr': {
      const c = k.value;
      const { iterRange, accuInit, loopCondition, loopStep } = c;
      if (!iterRange || !accuInit || !loopCondition || !loopStep || !c.result) return { cost: 1, size: 1 };
      const range = estimate(iterRange, input, scope);
      const init = estimate(accuInit, input, scope);
      const n = range.size;
      const scopeWith = (element: number, accu: number) => {
        const inner = new Map(scope);
        inner.set(c.iterVar, element);
        if (c.iterVar2) inner.set(c.iterVar2, element);
        inner.set(c.accuVar, accu);
        return inner;
      };
      // The elements' sizes add up to at most n, and the work of a step grows with its element no
      // faster than a polynomial with non-negative terms (convex), so the most any n elements can cost
      // is one element of the whole size plus n of size 1. The same holds for what steps add to the
      // accumulator (macros only ever add to it).
      const overAll = (f: (element: number) => number) => f(n) + times(n, f(1));
      const accu = init.size + overAll((x) => estimate(loopStep, input, scopeWith(x, 0)).size);
      const work = overAll((x) => {
        const inner = scopeWith(x, accu);
        return estimate(loopCondition, input, inner).cost + estimate(loopStep, input, inner).cost;
      });
      const result = estimate(c.result, input, scopeWith(0, accu));
      return { cost: range.cost + init.cost + work + result.cost, size: result.size };
    }
    default:
      return { cost: 1, size: 1 };
  }
}

/**
 * The most steps an expression can take on a site whose labels, properties and name each measure at
 * most `inputSize` (characters plus elements; see `inputSizeOf`). An upper bound: real runs take less.
 */
export function costBound(expr: Expr, inputSize: number): number {
  return estimate(expr, inputSize, new Map()).cost;
}

/**
 * The largest input size whose cost bound stays within `budget` (Infinity when the cost does not
 * grow with the input; -1 when even an empty site is over it). The bound grows with the input, so a
 * binary search finds it.
 */
export function largestInputWithin(expr: Expr, budget: number): number {
  if (costBound(expr, 0) > budget) return -1;
  const far = 2 ** 40;
  if (costBound(expr, far) <= budget) return Number.POSITIVE_INFINITY;
  let lo = 0;
  let hi = far;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (costBound(expr, mid) <= budget) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** The size of a JSON value as the cost bound counts it: characters of strings, one per other value. */
export function inputSizeOf(value: unknown): number {
  let size = 0;
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const v = pending.pop();
    if (typeof v === 'string') size += v.length;
    else if (Array.isArray(v)) {
      size += 1;
      pending.push(...v);
    } else if (v !== null && typeof v === 'object') {
      size += 1;
      for (const [key, item] of Object.entries(v)) {
        size += key.length;
        pending.push(item);
      }
    } else size += 1;
  }
  return size;
}
