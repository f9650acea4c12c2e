// Remote actions at the hub: a request is checked against the site and queued for its agent, which
// performs it on its next poll and reports how it went (operations.ts keeps the record and the audit).

import { OutpostError } from '../../model/errors.ts';
import type { ActionRequest, OperationView } from '../../model/operations.ts';
import type { Actor } from '../audit/audit.ts';
import type { HubContext } from '../context.ts';
import type { Site } from '../sites/sites.ts';
import { queueOperation } from './operations.ts';

const defaultDeadlineSeconds = 3600;

export async function requestAction(
  ctx: HubContext,
  actor: Actor,
  site: Site,
  req: ActionRequest,
): Promise<OperationView> {
  if (site.lifecycle !== 'Active') {
    throw new OutpostError(
      'conflict',
      `site ${site.name} is ${site.lifecycle}: only an active site takes actions`,
    );
  }
  const spec: Record<string, unknown> = { action: req.action };
  if (req.action === 'restart') {
    if (!req.target) {
      throw new OutpostError(
        'request_invalid',
        'restart needs a target: {kind, namespace, name} of a workload',
      );
    }
    spec.target = req.target;
  } else if (req.target) {
    throw new OutpostError('request_invalid', `${req.action} takes no target; only restart does`);
  }
  if (req.bundle !== undefined) {
    if (req.action !== 'reapply') throw new OutpostError('request_invalid', `${req.action} takes no bundle`);
    spec.bundle = req.bundle;
  }
  return queueOperation(ctx, actor, site, {
    kind: 'action',
    spec,
    deadlineMs: (req.deadlineSeconds ?? defaultDeadlineSeconds) * 1000,
    action: `site.action.${req.action}`,
  });
}
