// How a rollout moves a bundle's sites to a new revision, as a bundle or operator writes it: waves, pace,
// budgets, gates and windows, checked and defaulted. Every field has a safe default, so an empty strategy
// is a canary, then 10%, then the rest.

import { type LabelSelector, validateLabels, validateSelector } from '../select/labels.ts';
import { type MaintenanceWindow, windowProblems } from './maintenance-window.ts';
import { type Gate, gateName, gateProblems } from './rollout-gate.ts';

/** A count, or a share of a total written `"N%"`. */
export type Portion = number | `${number}%`;

/**
 * One wave, in the order waves run. Each picks from the sites no earlier wave took:
 * `sites` by name (named canaries), `selector` by labels, `count`/`percent` the first n by name,
 * `groupBy` one wave per value of a label (values sorted, sites lacking the label last).
 */
export type WaveSpec =
  | { name?: string; sites: string[] }
  | { name?: string; selector: LabelSelector }
  | { name?: string; count: number }
  | { name?: string; percent: number }
  | { name?: string; groupBy: string };

export type FailureAction = 'pause' | 'rollback';
export type ApprovalMode = 'auto' | 'manual';
export type OfflinePolicy = 'skip' | 'wait';
export type NoDataPolicy = 'wait' | 'pass' | 'fail';

/** A strategy with every default filled in; validateStrategy is the only way to get one from a document. */
export interface RolloutStrategy {
  waves: WaveSpec[];
  /** sites updating at once: a number ≥ 1 or a share of the rollout's sites, rounded down but at least 1 */
  maxConcurrent: Portion;
  /** failed sites tolerated: a number ≥ 0 or a share of the rollout's sites, rounded down (so it may be 0) */
  maxFailures: Portion;
  /** how long a healthy wave soaks before the next one starts */
  bakeSeconds: number;
  /** how long one site may take from start to Ready before it counts as failed */
  progressDeadlineSeconds: number;
  onFailure: FailureAction;
  /** `manual`: an operator approves each next wave */
  approval: ApprovalMode;
  /** `skip`: offline sites are set aside and do not hold their wave; `wait`: their wave waits for them */
  offline: OfflinePolicy;
  gates: Gate[];
  /** what a gate without data means; `wait` turns into a failure after maxWaitSeconds */
  noData: { policy: NoDataPolicy; maxWaitSeconds: number };
  /** ignore maintenance windows */
  emergency: boolean;
  /**
   * start at once, superseding the bundle's rollout that is still running; without it this rollout
   * waits (Queued) until that one has ended
   */
  supersede: boolean;
  /** site-local maintenance windows; none means any time */
  windows: MaintenanceWindow[];
}

export interface StrategyProblem {
  path: string;
  message: string;
}

/** A canary of one site, then 10% of the rest, then everything left: never the whole fleet at once. */
export const defaultWaves: readonly WaveSpec[] = [
  { name: 'canary', count: 1 },
  { name: '10%', percent: 10 },
  { name: 'rest', percent: 100 },
];

export const strategyDefaults: Readonly<Omit<RolloutStrategy, 'waves'>> = {
  maxConcurrent: '10%',
  maxFailures: 0,
  bakeSeconds: 300,
  progressDeadlineSeconds: 900,
  onFailure: 'pause',
  approval: 'auto',
  offline: 'skip',
  gates: [],
  noData: { policy: 'wait', maxWaitSeconds: 600 },
  emergency: false,
  supersede: false,
  windows: [],
};

/**
 * Strategies a bundle may name in `spec.rollout` instead of writing one inline. Each is a strategy
 * document, validated and defaulted like an inline one.
 */
export const namedStrategies: Readonly<Record<string, Readonly<Record<string, unknown>>>> = {
  /** the defaults: one canary, then 10%, then the rest, 5 min bakes, pause on the first failure */
  canary: {},
  /** a canary, then one region at a time (label `region`), rolling back by itself on failure */
  'by-region': {
    waves: [{ name: 'canary', count: 1 }, { groupBy: 'region' }],
    onFailure: 'rollback',
  },
  /** the defaults, but every wave waits for an operator's approval */
  manual: { approval: 'manual' },
  /** one wave of everything, 25% at a time, ignoring maintenance windows, superseding a running rollout */
  emergency: {
    waves: [{ name: 'all', percent: 100 }],
    maxConcurrent: '25%',
    bakeSeconds: 0,
    emergency: true,
    supersede: true,
  },
};

/**
 * The strategy a bundle names, or undefined for a name that is not one of namedStrategies.
 *
 * @example
 * strategyNamed('manual')?.approval; // 'manual'
 * strategyNamed('careful'); // undefined
 */
export function strategyNamed(name: string): RolloutStrategy | undefined {
  const doc = Object.hasOwn(namedStrategies, name) ? namedStrategies[name] : undefined;
  if (doc === undefined) return undefined;
  const checked = validateStrategy(doc);
  if ('problems' in checked)
    throw new Error(`named strategy ${name} is invalid: ${checked.problems[0]!.message}`);
  return checked.strategy;
}

const PERCENT_RE = /^(\d+(?:\.\d+)?)%$/;

/** The percentage a portion like `"10%"` names; undefined for a count. */
export function percentValue(p: Portion): number | undefined {
  if (typeof p === 'number') return undefined;
  const m = PERCENT_RE.exec(p);
  return m ? Number(m[1]) : undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isWholeNumber(v: unknown, min: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min;
}

function portionProblem(v: unknown, min: 0 | 1): string | undefined {
  if (typeof v === 'number') {
    return isWholeNumber(v, min)
      ? undefined
      : `must be a whole number of ${min} or more, or a percentage like "10%"`;
  }
  if (typeof v === 'string') {
    const pct = percentValue(v as Portion);
    if (pct === undefined) return 'must be a whole number or a percentage like "10%"';
    if (pct > 100) return 'must be at most 100%';
    if (min === 1 && pct === 0) return 'must be more than 0%; a rollout that may update no site never moves';
    return undefined;
  }
  return 'must be a whole number or a percentage like "10%"';
}

const WAVE_KINDS = ['sites', 'selector', 'count', 'percent', 'groupBy'] as const;

function waveProblems(input: unknown, at: string): StrategyProblem[] {
  if (!isRecord(input))
    return [{ path: at, message: `must be an object with one of ${WAVE_KINDS.join(', ')}` }];
  const problems: StrategyProblem[] = [];
  for (const key of Object.keys(input)) {
    if (key !== 'name' && !(WAVE_KINDS as readonly string[]).includes(key)) {
      problems.push({
        path: `${at}.${key}`,
        message: `unknown field; a wave has a name and one of ${WAVE_KINDS.join(', ')}`,
      });
    }
  }
  if (input.name !== undefined && (typeof input.name !== 'string' || input.name === '')) {
    problems.push({ path: `${at}.name`, message: 'must be a non-empty string' });
  }
  const kinds = WAVE_KINDS.filter((k) => input[k] !== undefined);
  if (kinds.length !== 1) {
    problems.push({
      path: at,
      message:
        kinds.length === 0
          ? `needs one of ${WAVE_KINDS.join(', ')}`
          : `has ${kinds.join(' and ')}; a wave picks its sites one way only`,
    });
    return problems;
  }
  const kind = kinds[0]!;
  const v = input[kind];
  const path = `${at}.${kind}`;
  switch (kind) {
    case 'sites':
      if (!Array.isArray(v) || v.length === 0 || !v.every((s) => typeof s === 'string' && s !== '')) {
        problems.push({ path, message: 'must list one or more site names' });
      }
      break;
    case 'selector':
      if (!isRecord(v))
        problems.push({ path, message: 'must be a label selector (matchLabels, matchExpressions)' });
      else {
        for (const p of validateSelector(v)) problems.push({ path: `${path}.${p.path}`, message: p.message });
      }
      break;
    case 'count':
      if (!isWholeNumber(v, 1)) problems.push({ path, message: 'must be a whole number of 1 or more' });
      break;
    case 'percent':
      if (typeof v !== 'number' || !(v > 0 && v <= 100)) {
        problems.push({ path, message: 'must be a number above 0 and at most 100' });
      }
      break;
    case 'groupBy':
      if (typeof v !== 'string' || v === '')
        problems.push({ path, message: 'must be a label key, e.g. region' });
      else {
        for (const p of validateLabels({ [v]: '' }, path)) problems.push({ path, message: p.message });
      }
      break;
  }
  return problems;
}

const FIELDS: readonly (keyof RolloutStrategy)[] = [
  'waves',
  'maxConcurrent',
  'maxFailures',
  'bakeSeconds',
  'progressDeadlineSeconds',
  'onFailure',
  'approval',
  'offline',
  'gates',
  'noData',
  'emergency',
  'supersede',
  'windows',
];

function oneOf(v: unknown, allowed: readonly string[], path: string, problems: StrategyProblem[]): void {
  if (v !== undefined && !allowed.includes(v as string)) {
    problems.push({ path, message: `must be one of ${allowed.map((a) => `'${a}'`).join(', ')}` });
  }
}

function seconds(v: unknown, min: number, path: string, problems: StrategyProblem[]): void {
  if (v !== undefined && !isWholeNumber(v, min)) {
    problems.push({ path, message: `must be a whole number of seconds, ${min} or more` });
  }
}

/**
 * Checks a strategy document and fills in the defaults. Unknown fields are problems, so a typo such as
 * `maxConcurency` cannot silently fall back to a default.
 *
 * @example
 * validateStrategy({}); // { strategy: { waves: defaultWaves, maxConcurrent: '10%', maxFailures: 0, ... } }
 * validateStrategy({ maxConcurrent: '0%' }); // { problems: [{ path: 'maxConcurrent', message: 'must be more than 0%; ...' }] }
 */
export function validateStrategy(
  input: unknown,
): { strategy: RolloutStrategy } | { problems: StrategyProblem[] } {
  const doc = input ?? {};
  if (!isRecord(doc)) return { problems: [{ path: '', message: 'a rollout strategy must be an object' }] };
  const problems: StrategyProblem[] = [];
  for (const key of Object.keys(doc)) {
    if (!(FIELDS as readonly string[]).includes(key)) {
      problems.push({ path: key, message: `unknown field; a strategy has ${FIELDS.join(', ')}` });
    }
  }

  if (doc.waves !== undefined) {
    if (!Array.isArray(doc.waves) || doc.waves.length === 0) {
      problems.push({
        path: 'waves',
        message: 'must list at least one wave; leave it out for canary, 10%, rest',
      });
    } else {
      const names = new Map<string, number>();
      doc.waves.forEach((w: unknown, i) => {
        problems.push(...waveProblems(w, `waves[${i}]`));
        const name = isRecord(w) ? w.name : undefined;
        if (typeof name === 'string' && name !== '') {
          const first = names.get(name);
          if (first !== undefined) {
            problems.push({
              path: `waves[${i}].name`,
              message: `"${name}" is already the name of waves[${first}]`,
            });
          } else names.set(name, i);
        }
      });
    }
  }
  for (const key of ['maxConcurrent', 'maxFailures'] as const) {
    if (doc[key] !== undefined) {
      const message = portionProblem(doc[key], key === 'maxConcurrent' ? 1 : 0);
      if (message) problems.push({ path: key, message });
    }
  }
  seconds(doc.bakeSeconds, 0, 'bakeSeconds', problems);
  seconds(doc.progressDeadlineSeconds, 1, 'progressDeadlineSeconds', problems);
  oneOf(doc.onFailure, ['pause', 'rollback'], 'onFailure', problems);
  oneOf(doc.approval, ['auto', 'manual'], 'approval', problems);
  oneOf(doc.offline, ['skip', 'wait'], 'offline', problems);
  for (const key of ['emergency', 'supersede'] as const) {
    if (doc[key] !== undefined && typeof doc[key] !== 'boolean') {
      problems.push({ path: key, message: 'must be true or false' });
    }
  }
  if (doc.gates !== undefined) {
    if (!Array.isArray(doc.gates)) problems.push({ path: 'gates', message: 'must be a list of gates' });
    else {
      const names = new Set<string>();
      doc.gates.forEach((g: unknown, i) => {
        const found = gateProblems(g, `gates[${i}]`);
        problems.push(...found);
        if (found.length === 0) {
          const name = gateName(g as Gate);
          if (names.has(name)) {
            problems.push({
              path: `gates[${i}]`,
              message: `a gate named "${name}" is already defined; give this one a name`,
            });
          }
          names.add(name);
        }
      });
    }
  }
  if (doc.noData !== undefined) {
    if (!isRecord(doc.noData))
      problems.push({ path: 'noData', message: 'must be an object with policy and maxWaitSeconds' });
    else {
      for (const key of Object.keys(doc.noData)) {
        if (key !== 'policy' && key !== 'maxWaitSeconds') {
          problems.push({
            path: `noData.${key}`,
            message: 'unknown field; noData has policy and maxWaitSeconds',
          });
        }
      }
      oneOf(doc.noData.policy, ['wait', 'pass', 'fail'], 'noData.policy', problems);
      seconds(doc.noData.maxWaitSeconds, 0, 'noData.maxWaitSeconds', problems);
    }
  }
  if (doc.windows !== undefined) problems.push(...windowProblems(doc.windows, 'windows'));
  if (problems.length > 0) return { problems };

  const d = strategyDefaults;
  const noData = (doc.noData ?? {}) as Partial<RolloutStrategy['noData']>;
  // Copies, not references: the strategy is persisted with the rollout and must not change under it.
  const strategy: RolloutStrategy = {
    waves: structuredClone((doc.waves as WaveSpec[] | undefined) ?? [...defaultWaves]),
    maxConcurrent: (doc.maxConcurrent as Portion | undefined) ?? d.maxConcurrent,
    maxFailures: (doc.maxFailures as Portion | undefined) ?? d.maxFailures,
    bakeSeconds: (doc.bakeSeconds as number | undefined) ?? d.bakeSeconds,
    progressDeadlineSeconds: (doc.progressDeadlineSeconds as number | undefined) ?? d.progressDeadlineSeconds,
    onFailure: (doc.onFailure as FailureAction | undefined) ?? d.onFailure,
    approval: (doc.approval as ApprovalMode | undefined) ?? d.approval,
    offline: (doc.offline as OfflinePolicy | undefined) ?? d.offline,
    gates: structuredClone((doc.gates as Gate[] | undefined) ?? []),
    noData: {
      policy: noData.policy ?? d.noData.policy,
      maxWaitSeconds: noData.maxWaitSeconds ?? d.noData.maxWaitSeconds,
    },
    emergency: (doc.emergency as boolean | undefined) ?? d.emergency,
    supersede: (doc.supersede as boolean | undefined) ?? d.supersede,
    windows: structuredClone((doc.windows as MaintenanceWindow[] | undefined) ?? []),
  };
  return { strategy };
}
