// How a bundle asks to be applied at a site (the Bundle's spec.apply): conflicts, deletion, readiness,
// rollback, drift correction and image pre-pull. Travels inside the rendered bundle, so a change of
// options is a new digest. Defaults are chosen for sites with nobody on hand to fix things.

export const deletionPolicies = ['Delete', 'Orphan'] as const;
export type DeletionPolicy = (typeof deletionPolicies)[number];

export const readinessModes = ['Optimistic', 'Pessimistic'] as const;
export type ReadinessMode = (typeof readinessModes)[number];

export interface PrePullOptions {
  /** pull a new revision's new images on every node before switching to it */
  enabled: boolean;
  /** switch anyway once this long has passed, pulled or not */
  deadlineSeconds: number;
}

/**
 * Differences the agent leaves alone on matching objects (Argo CD's ignoreDifferences): the fields at
 * `jsonPointers`, and the fields `managedFieldsManagers` own. They are neither reported as drift nor put
 * back, and the agent does not keep owning them once the object exists.
 */
export interface IgnoreDifferences {
  /** API group ('' or absent: the core group; '*': any) */
  group?: string;
  /** the kind ('*': any) */
  kind: string;
  name?: string;
  namespace?: string;
  /** RFC 6901 pointers, e.g. /spec/replicas */
  jsonPointers?: string[];
  /** field managers whose fields win over the bundle's, e.g. kube-controller-manager */
  managedFieldsManagers?: string[];
}

export interface BundleApplyOptions {
  /** take over fields another field manager owns instead of reporting the conflict */
  force: boolean;
  /** what happens to objects the bundle stops having, or all of them when it leaves the site */
  deletionPolicy: DeletionPolicy;
  /** Optimistic: applied is done. Pessimistic: done once every object is ready */
  readiness: ReadinessMode;
  /** Pessimistic only: how long a new revision may take to become ready */
  progressDeadlineSeconds: number;
  /** Pessimistic only: on a missed deadline, go back to the last revision that was ready here */
  rollback: boolean;
  /** re-apply the bundle's fields when someone changes them on the site */
  correctDrift: boolean;
  prePull: PrePullOptions;
  /** absent when none, so the digests of bundles without it stay as they were */
  ignoreDifferences?: IgnoreDifferences[];
}

/**
 * The defaults, and why:
 * - force false: a field another manager owns is someone's intent; taking it silently hides a conflict.
 * - deletionPolicy Delete: a site has no one to clean up leftovers; removal is always an operator's
 *   explicit act (unplacing or deleting the bundle), never a side effect of losing the hub.
 * - readiness Pessimistic, 600 s: a site counts as done when its workloads run, which is what rollout
 *   gates need; 600 s is the Deployment controller's own progress deadline.
 * - rollback true: with nobody on site, going back to what last ran is better than staying broken; a
 *   bundle with forward-only changes (schema migrations) turns it off.
 * - correctDrift true: an edge site has no one to fix drift by hand.
 * - prePull off: it runs extra pods on every node and needs a shell in each image (see prepull.ts).
 */
export const defaultApplyOptions: BundleApplyOptions = Object.freeze({
  force: false,
  deletionPolicy: 'Delete',
  readiness: 'Pessimistic',
  progressDeadlineSeconds: 600,
  rollback: true,
  correctDrift: true,
  prePull: Object.freeze({ enabled: false, deadlineSeconds: 600 }),
});

export interface OptionsProblem {
  /** path below spec.apply, e.g. "prePull.deadlineSeconds" */
  path: string;
  message: string;
}

const maxSeconds = 7 * 24 * 3600;

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * Validates spec.apply and fills in defaults. `undefined` means "all defaults".
 * @example parseApplyOptions({ readiness: 'Optimistic' }) // → { options: { …defaults, readiness: 'Optimistic' } }
 */
export function parseApplyOptions(
  value: unknown,
): { options: BundleApplyOptions; problem?: undefined } | { problem: OptionsProblem } {
  if (value === undefined || value === null) return { options: withApplyDefaults(undefined) };
  if (!isRecord(value)) return { problem: { path: '', message: 'is a mapping' } };
  const known = [...Object.keys(defaultApplyOptions), 'ignoreDifferences'];
  for (const key of Object.keys(value)) {
    if (!known.includes(key))
      return { problem: { path: key, message: `unknown field (known: ${known.join(', ')})` } };
  }
  const boolean = (key: string): OptionsProblem | undefined =>
    value[key] === undefined || typeof value[key] === 'boolean'
      ? undefined
      : { path: key, message: 'is true or false' };
  const seconds = (v: unknown, path: string): OptionsProblem | undefined =>
    v === undefined || (Number.isInteger(v) && (v as number) >= 1 && (v as number) <= maxSeconds)
      ? undefined
      : { path, message: `is a whole number of seconds from 1 to ${maxSeconds}` };
  const oneOf = (key: string, allowed: readonly string[]): OptionsProblem | undefined =>
    value[key] === undefined || allowed.includes(value[key] as string)
      ? undefined
      : { path: key, message: `is one of ${allowed.join(', ')}` };

  let problem =
    boolean('force') ??
    oneOf('deletionPolicy', deletionPolicies) ??
    oneOf('readiness', readinessModes) ??
    seconds(value.progressDeadlineSeconds, 'progressDeadlineSeconds') ??
    boolean('rollback') ??
    boolean('correctDrift');
  const prePull = value.prePull;
  if (!problem && prePull !== undefined) {
    if (!isRecord(prePull)) problem = { path: 'prePull', message: 'is a mapping (enabled, deadlineSeconds)' };
    else {
      const extra = Object.keys(prePull).find((k) => k !== 'enabled' && k !== 'deadlineSeconds');
      if (extra)
        problem = { path: `prePull.${extra}`, message: 'unknown field (known: enabled, deadlineSeconds)' };
      else if (prePull.enabled !== undefined && typeof prePull.enabled !== 'boolean')
        problem = { path: 'prePull.enabled', message: 'is true or false' };
      else problem = seconds(prePull.deadlineSeconds, 'prePull.deadlineSeconds');
    }
  }
  if (!problem && value.ignoreDifferences !== undefined)
    problem = ignoreDifferencesProblem(value.ignoreDifferences);
  if (problem) return { problem };
  return { options: withApplyDefaults(value as Partial<BundleApplyOptions>) };
}

const ignoreFields = ['group', 'kind', 'name', 'namespace', 'jsonPointers', 'managedFieldsManagers'];
/** RFC 6901: '/'-separated tokens, '~' only as ~0 or ~1. */
const jsonPointer = /^(\/([^~/]|~[01])*)+$/;

function ignoreDifferencesProblem(value: unknown): OptionsProblem | undefined {
  if (!Array.isArray(value))
    return {
      path: 'ignoreDifferences',
      message: 'is a list of {group, kind, name, namespace, jsonPointers, managedFieldsManagers}',
    };
  for (const [i, entry] of value.entries()) {
    const at = `ignoreDifferences.${i}`;
    if (!isRecord(entry))
      return { path: at, message: 'is a mapping with kind and jsonPointers or managedFieldsManagers' };
    for (const key of Object.keys(entry)) {
      if (key === 'jqPathExpressions')
        return { path: `${at}.${key}`, message: 'is not supported; name the fields with jsonPointers' };
      if (!ignoreFields.includes(key))
        return { path: `${at}.${key}`, message: `unknown field (known: ${ignoreFields.join(', ')})` };
    }
    if (typeof entry.kind !== 'string' || entry.kind === '')
      return { path: `${at}.kind`, message: "is required: the kind, or '*'" };
    for (const key of ['group', 'name', 'namespace'])
      if (entry[key] !== undefined && typeof entry[key] !== 'string')
        return { path: `${at}.${key}`, message: 'is a string' };
    const pointers = entry.jsonPointers;
    const managers = entry.managedFieldsManagers;
    if (pointers === undefined && managers === undefined)
      return { path: at, message: 'names what to ignore: jsonPointers, managedFieldsManagers or both' };
    if (pointers !== undefined) {
      if (!Array.isArray(pointers) || pointers.length === 0)
        return { path: `${at}.jsonPointers`, message: 'is a list of JSON pointers such as /spec/replicas' };
      const bad = pointers.findIndex(
        (p) =>
          typeof p !== 'string' ||
          !jsonPointer.test(p) ||
          /^\/(apiVersion|kind|metadata\/(name|namespace))?$/.test(p),
      );
      if (bad >= 0)
        return {
          path: `${at}.jsonPointers.${bad}`,
          message:
            'is a JSON pointer to a field such as /spec/replicas (not the object, its kind or its name)',
        };
    }
    if (
      managers !== undefined &&
      (!Array.isArray(managers) ||
        managers.length === 0 ||
        managers.some((m) => typeof m !== 'string' || m === ''))
    )
      return { path: `${at}.managedFieldsManagers`, message: 'is a list of field manager names' };
  }
  return undefined;
}

/** Defaults for whatever is missing; the agent also uses it on blobs from a hub that sent no options. */
export function withApplyDefaults(partial: Partial<BundleApplyOptions> | undefined): BundleApplyOptions {
  const d = defaultApplyOptions;
  const p = partial ?? {};
  return {
    force: p.force ?? d.force,
    deletionPolicy: p.deletionPolicy ?? d.deletionPolicy,
    readiness: p.readiness ?? d.readiness,
    progressDeadlineSeconds: p.progressDeadlineSeconds ?? d.progressDeadlineSeconds,
    rollback: p.rollback ?? d.rollback,
    correctDrift: p.correctDrift ?? d.correctDrift,
    prePull: {
      enabled: p.prePull?.enabled ?? d.prePull.enabled,
      deadlineSeconds: p.prePull?.deadlineSeconds ?? d.prePull.deadlineSeconds,
    },
    ...(p.ignoreDifferences && p.ignoreDifferences.length > 0
      ? { ignoreDifferences: p.ignoreDifferences }
      : {}),
  };
}
