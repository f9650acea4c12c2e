// Everything a hub request or background job needs, as one type: built complete by contextFromConfig
// (assemble.ts), never changed afterwards but for the public URL, and closed by whoever built it.

import type { HubConfig } from './config.ts';
import type { Coordination } from './coordination.ts';
import type { DesiredWatch } from './desired-watch.ts';
import type { HubTls } from './identity/ca.ts';
import type { LogSink } from './log-sink.ts';
import type { HubMetrics } from './metrics.ts';
import type { WorkSignal } from './operations/work-signal.ts';
import type { CertificateSites } from './sites/certificate-sites.ts';
import type { EventFeed } from './status/events.ts';
import type { LastSeen } from './status/last-seen.ts';
import type { ReportBatcher } from './status/report-batcher.ts';
import type { Store } from './store/index.ts';
import type { RemoteWriter } from './telemetry/remote-write.ts';

/**
 * The URL agents are told to call (join tokens, links in alerts): the one value of the context that may
 * change after it is built, because a hub listening on port 0 learns its address only once it listens.
 * Whoever calls listen() sets it, right after; nothing else writes it.
 */
export interface PublicUrl {
  current: string;
}

export interface HubContext {
  readonly config: HubConfig;
  readonly publicUrl: PublicUrl;
  readonly store: Store;
  readonly tls: HubTls;
  readonly desiredWatch: DesiredWatch;
  /** which site each agent certificate belongs to, remembered between the agent's calls */
  readonly certificateSites: CertificateSites;
  /** wakes event streams after events commit; closed with the server */
  readonly events: EventFeed;
  /** which sites have operations waiting, so their long-poll says so without a query */
  readonly work: WorkSignal;
  readonly metrics: HubMetrics;
  /** when agents were last heard from, written in batches (status/last-seen.ts) */
  readonly lastSeen: LastSeen;
  /** agents' reports, ingested in group-committed batches */
  readonly reports: ReportBatcher;
  /** forwards samples by Prometheus remote-write when configured */
  readonly remoteWrite?: RemoteWriter;
  /** wakes other replicas and says whether this one runs the work that must run once */
  readonly coordination: Coordination;
  /** background work's log lines (a server plugs its logger in) */
  readonly log: LogSink;
  readonly now: () => Date;
  /** Ends what building the context started (replica session, forwarder, store), last started first. */
  close(): Promise<void>;
}
