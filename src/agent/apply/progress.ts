// Judges one applied bundle from what its objects look like: the state to report, and what to do about
// it (correct drift, roll back, record a last-known-good revision). Pure: the clock is passed in.

import type { BundleApplyOptions } from '../../model/apply-options.ts';
import type { ReportedState } from '../../model/deployment.ts';
import type { FieldDrift } from './drift.ts';

export interface ObjectHealth {
  /** refKey of the object */
  key: string;
  /** e.g. "Deployment shop/web" */
  object: string;
  ready: boolean;
  /** will not become ready without a change */
  failed?: boolean;
  reason: string;
  drift: FieldDrift[];
}

export interface ProgressInput {
  options: BundleApplyOptions;
  /** the desired digest */
  digest: string;
  objects: readonly ObjectHealth[];
  /** when this digest's apply began, while it has not yet been Ready (ms since epoch) */
  progressingSince?: number;
  lastKnownGood?: string;
  /** set while the site runs the last-known-good after this digest missed its deadline */
  rolledBack?: { to: string; message: string };
  now: number;
}

export interface Assessment {
  state: ReportedState;
  message: string;
  /** the objects (refKeys) to re-apply because they drifted and the bundle corrects drift */
  correct: string[];
  /** the deadline passed: go back to this digest (the last-known-good) */
  rollbackTo?: string;
  /** the deadline passed: what was still not ready, e.g. "progress deadline exceeded after 600s (…)" */
  missedDeadline?: string;
  /** the digest is Ready without drift: it becomes the last-known-good */
  good: boolean;
}

/**
 * Optimistic bundles are done once applied; pessimistic ones once every object is ready, and a new
 * revision that is not ready within its progress deadline fails (and rolls back if asked and possible).
 * Drift outranks readiness in what is reported, since it says the site is not what was asked.
 */
export function assess(input: ProgressInput): Assessment {
  const { options, objects } = input;
  const drifted = objects.filter((o) => o.drift.length > 0);
  const correct = options.correctDrift ? drifted.map((o) => o.key) : [];
  if (input.rolledBack) {
    return { state: 'Failed', message: input.rolledBack.message, correct, good: false };
  }
  if (drifted.length > 0) {
    return { state: 'Drifted', message: driftMessage(drifted), correct, good: false };
  }
  const failed = objects.find((o) => o.failed);
  const notReady = objects.filter((o) => !o.ready);
  const first = notReady[0];
  const detail = first ? `${first.object}: ${first.reason}` : '';
  if (options.readiness === 'Optimistic') {
    if (failed)
      return { state: 'Failed', message: `${failed.object}: ${failed.reason}`, correct, good: false };
    return { state: 'Ready', message: '', correct, good: true };
  }
  if (notReady.length === 0) return { state: 'Ready', message: '', correct, good: true };
  const deadlineMs = options.progressDeadlineSeconds * 1000;
  if (input.progressingSince !== undefined && input.now - input.progressingSince > deadlineMs) {
    const missed = `progress deadline exceeded after ${options.progressDeadlineSeconds}s (${detail})`;
    const lkg = input.lastKnownGood;
    if (options.rollback && lkg && lkg !== input.digest) {
      const message = `${missed}; rolled back to ${lkg}`;
      return { state: 'Failed', message, correct, rollbackTo: lkg, missedDeadline: missed, good: false };
    }
    const why = !options.rollback ? 'rollback is off' : 'no earlier revision was ready here';
    const message = `${missed}; not rolled back: ${why}`;
    return { state: 'Failed', message, correct, missedDeadline: missed, good: false };
  }
  if (failed) return { state: 'Failed', message: `${failed.object}: ${failed.reason}`, correct, good: false };
  return { state: 'NotReady', message: detail, correct, good: false };
}

function driftMessage(drifted: readonly ObjectHealth[]): string {
  const first = drifted[0]!;
  const field = first.drift[0]!;
  const what =
    field.path === ''
      ? `${first.object} was deleted`
      : `${first.object} ${field.path} (want ${field.want}, got ${field.got})`;
  const more = drifted.reduce((n, o) => n + o.drift.length, 0) - 1;
  return `drifted: ${what}${more > 0 ? ` and ${more} more field(s)` : ''}`;
}
