// Operating one site from afar: `outpost logs` (container logs the site's agent reads and uploads),
// `outpost action` (restart a workload, re-apply, check drift) and `outpost operations` (what was asked
// of a site and how it ended). The hub queues each; the agent picks it up on its next poll.

import type { Command } from '@commander-js/extra-typings';
import { OutpostError } from '../model/errors.ts';
import {
  type ActionRequest,
  finishedStates,
  type OperationView,
  restartableKinds,
} from '../model/operations.ts';
import { followEvents } from '../net/follow-events.ts';
import { number, seconds } from './arguments.ts';
import type { HubApi } from './hub-api.ts';
import { logLine, untilSignal } from './long-running.ts';
import { api, operatorOptions, outputOption, print, printList } from './options.ts';

const pollMs = 500;

/** Steps until the operation finishes, for up to `waitSeconds`; each step reads (and shows) its progress. */
async function settle(
  id: string,
  waitSeconds: number,
  onStep: () => Promise<OperationView>,
): Promise<OperationView> {
  const until = Date.now() + waitSeconds * 1000;
  for (;;) {
    const op = await onStep();
    if (finishedStates.includes(op.state)) return op;
    if (Date.now() >= until) {
      throw new OutpostError(
        'unavailable',
        `operation ${id} is still ${op.state} after ${waitSeconds}s (the site may be offline; it waits until ${op.deadline}); see it with: outpost operations ${op.site}`,
      );
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

function outcome(op: OperationView): void {
  if (op.state === 'done') return;
  throw new OutpostError('conflict', `operation ${op.id} ${op.state}: ${op.message ?? ''}`);
}

/** `Deployment/namespace/name` (kind case-insensitive, namespace default when left out). */
function workloadOf(text: string): NonNullable<ActionRequest['target']> {
  const parts = text.split('/');
  const kind = restartableKinds.find((k) => k.toLowerCase() === parts[0]?.toLowerCase());
  if (!kind || parts.length < 2 || parts.length > 3) {
    throw new OutpostError(
      'request_invalid',
      `--target takes KIND/NAMESPACE/NAME with KIND one of ${restartableKinds.join(', ')}, got "${text}"`,
    );
  }
  return parts.length === 3
    ? { kind, namespace: parts[1]!, name: parts[2]! }
    : { kind, namespace: 'default', name: parts[1]! };
}

/**
 * Prints a log request's chunks as the hub streams them, until its `end`; leaving (Ctrl-C) closes the
 * stream, which ends the follow session at the site, and returns nothing.
 */
async function followLogs(hub: HubApi, id: string): Promise<OperationView | undefined> {
  const { url, headers, ca } = hub.logStream(id);
  const stop = new AbortController();
  const interrupted = untilSignal();
  let end: OperationView | undefined;
  await followEvents(url, {
    headers,
    ca,
    signal: AbortSignal.any([interrupted, stop.signal]),
    onMessage: (m) => {
      if (m.event === 'chunk') process.stdout.write(JSON.parse(m.data) as string);
      if (m.event === 'end') {
        end = JSON.parse(m.data) as OperationView;
        // after the parser's turn: the stream is over, the reader stops before reconnecting
        setImmediate(() => stop.abort());
      }
    },
    onError: (e) => {
      // a refusal (credentials, reach, an unknown id) does not heal by reconnecting
      if (/HTTP 4\d\d/.test(e.message))
        throw new OutpostError('forbidden', `log stream of ${id}: ${e.message}`);
      logLine('log stream interrupted; reconnecting', { error: e.message });
    },
  });
  if (interrupted.aborted && !end) return undefined;
  return end ?? hub.operation(id);
}

export function addOperationCommands(root: Command): void {
  operatorOptions(
    root
      .command('logs')
      .description('container logs from a site: its agent reads them on its next poll and uploads them')
      .argument('<site>'),
  )
    .option('-n, --namespace <namespace>', 'the pods namespace', 'default')
    .option('--pod <name>', 'one pod')
    .option('-l, --selector <selector>', 'the pods a label selector picks (each line prefixed with its pod)')
    .option('-c, --container <name>', 'the container (default: the pod has one)')
    .option('--since <duration>', 'only lines newer than this (90s, 10m, 2h)')
    .option('--tail <lines>', 'only the last lines of each container')
    .option('--limit-bytes <bytes>', 'the most bytes to bring back (default 1 MiB, at most 8 MiB)')
    .option('--previous', "the previous container's logs (after a restart)")
    .option('-f, --follow', 'keep printing lines as the container writes them (one pod; Ctrl-C stops)')
    .option('--follow-for <duration>', 'follow: end the session after this long (default 10m, at most 1h)')
    .option('--wait <duration>', 'how long to wait for the site', '60s')
    .action(async (site, opts) => {
      const hub = await api(opts);
      if (opts.followFor && !opts.follow) {
        throw new OutpostError('request_invalid', '--follow-for goes with --follow');
      }
      const op = await hub.requestLogs(site, {
        namespace: opts.namespace,
        ...(opts.pod ? { pod: opts.pod } : {}),
        ...(opts.selector ? { selector: opts.selector } : {}),
        ...(opts.container ? { container: opts.container } : {}),
        ...(opts.since ? { sinceSeconds: seconds(opts.since, '--since') } : {}),
        ...(opts.tail ? { tailLines: number(opts.tail, '--tail') } : {}),
        ...(opts.limitBytes ? { limitBytes: number(opts.limitBytes, '--limit-bytes', 1) } : {}),
        ...(opts.previous ? { previous: true } : {}),
        ...(opts.follow ? { follow: true } : {}),
        ...(opts.followFor ? { followSeconds: seconds(opts.followFor, '--follow-for') } : {}),
      });
      if (opts.follow) {
        const done = await followLogs(hub, op.id);
        if (!done) return;
        outcome(done);
        if (done.message) process.stderr.write(`${done.message}\n`);
        return;
      }
      let after = 0;
      const done = await settle(op.id, seconds(opts.wait, '--wait'), async () => {
        for (;;) {
          const page = await hub.operationLogs(op.id, after);
          for (const c of page.chunks) process.stdout.write(c.data);
          after = page.lastSeq;
          if (page.chunks.length === 0 || page.done) return page.operation;
        }
      });
      outcome(done);
      if (done.message) process.stderr.write(`${done.message}\n`);
    });

  operatorOptions(
    root
      .command('action')
      .description('a remote action at a site, performed by its agent on its next poll')
      .argument('<site>')
      .argument('<action>', 'restart | reapply | drift-check | rotate-certificate | factory-reset (admin)'),
  )
    .option('--target <workload>', 'restart: KIND/NAMESPACE/NAME (Deployment, StatefulSet, DaemonSet)')
    .option('--bundle <name>', 'reapply: this bundle (default: every failed one)')
    .option('--wait <duration>', 'how long to wait for the outcome (0: do not wait)', '60s')
    .action(async (site, action, opts) => {
      const hub = await api(opts);
      const op = await hub.requestAction(site, {
        action: action as ActionRequest['action'],
        ...(opts.target ? { target: workloadOf(opts.target) } : {}),
        ...(opts.bundle ? { bundle: opts.bundle } : {}),
      });
      if (opts.wait === '0') return print(`queued as operation ${op.id}`);
      const done = await settle(op.id, seconds(opts.wait, '--wait'), () => hub.operation(op.id));
      outcome(done);
      print(done.message ?? 'done');
    });

  operatorOptions(
    root.command('operations').description('what was asked of a site and how it ended').argument('<site>'),
  )
    .addOption(outputOption())
    .action(async (site, opts) => {
      const items = await (await api(opts)).siteOperations(site);
      printList(opts.output, items, ['id', 'kind', 'what', 'state', 'by', 'requested', 'message'], (o) => [
        o.id,
        o.kind,
        String(o.spec.action ?? o.spec.pod ?? o.spec.selector ?? ''),
        o.state,
        o.requestedBy,
        o.requestedAt,
        o.message ?? '',
      ]);
    });
}
