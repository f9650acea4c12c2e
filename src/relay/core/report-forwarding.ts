// Which of its sites' reports a relay sends up to the hub: a report whose content (all but its sequence
// number) repeats the last one forwarded is taken and kept back, and the site only counts as seen there.

/** The last report the relay put in its outbox for a site. */
export interface ForwardedReport {
  /** a digest of the report without its `seq` */
  content: string;
  /** when it went into the outbox, ms since the epoch */
  at: number;
  /** its outbox item: if that item never reaches the hub, the site's next report must go up */
  itemId: number;
}

export interface SiteReports {
  forwarded: ForwardedReport;
  /** the highest sequence number the relay took from the site, forwarded or kept back */
  lastSeq: number;
}

export type ReportDecision = 'forward' | 'unchanged';

/**
 * Whether a site's report goes up. It goes up unless the hub is known to hold the same content from
 * this relay less than `refreshMs` ago: with nothing forwarded yet, after a gap in the site's sequence
 * (the missing reports may have reached the hub directly, during a fallback, with other content), when
 * the content changed, or once the forwarded one is `refreshMs` old (0: every report goes up).
 *
 * @example decideReport(undefined, { seq: 1, content: 'd1' }, now, 300_000) // 'forward'
 */
export function decideReport(
  site: SiteReports | undefined,
  report: { seq: number; content: string },
  now: number,
  refreshMs: number,
): ReportDecision {
  if (!site) return 'forward';
  // the same seq again is the agent resending one the relay already took
  const inSequence = report.seq === site.lastSeq + 1 || report.seq === site.lastSeq;
  if (!inSequence) return 'forward';
  if (report.content !== site.forwarded.content) return 'forward';
  if (now - site.forwarded.at >= refreshMs) return 'forward';
  return 'unchanged';
}

/**
 * The text that stands for a report's content (all but its `seq`), to be hashed, from its JSON text as
 * the site sent it. Agents write `seq` first: the rest of the text is used as it came, not parsed and
 * serialized again; a text written otherwise gives the report without `seq`, serialized (never equal to
 * the first form, so such a report is at worst forwarded once more).
 *
 * @example reportContentText('{"seq":7,"deployments":[]}', { seq: 7, deployments: [] }) // '"deployments":[]}'
 */
export function reportContentText(text: string, report: { seq: number }): string {
  const head = `{"seq":${report.seq},`;
  if (text.startsWith(head)) return text.slice(head.length);
  const { seq: _, ...rest } = report;
  return JSON.stringify(rest);
}

/** Counts since the relay started, for its status. */
export interface ReportCounts {
  forwarded: number;
  keptBack: number;
}

/**
 * The relay's memory of what it forwarded per site (memory only: after a restart every site's first
 * report goes up). A report is remembered only once it is in the outbox, and forgotten when its item is
 * dropped by the byte budget or not stored by the hub, so the hub never keeps an older state than the
 * site's because of a report kept back.
 */
export class ForwardedReports {
  readonly #sites = new Map<string, SiteReports>();
  readonly #refreshMs: number;
  #forwarded = 0;
  #keptBack = 0;

  constructor(refreshMs: number) {
    this.#refreshMs = refreshMs;
  }

  /** Whether the report must go up; one that need not is counted as kept back. */
  take(siteId: string, report: { seq: number; content: string }, now: number): boolean {
    const site = this.#sites.get(siteId);
    if (decideReport(site, report, now, this.#refreshMs) === 'forward') return true;
    site!.lastSeq = Math.max(site!.lastSeq, report.seq);
    this.#keptBack++;
    return false;
  }

  /** The report is on disk in the outbox as item `itemId`, on its way to the hub. */
  remember(siteId: string, report: { seq: number; content: string }, itemId: number, now: number): void {
    this.#sites.set(siteId, { forwarded: { content: report.content, at: now, itemId }, lastSeq: report.seq });
    this.#forwarded++;
  }

  /** Item `itemId` of the site will not be stored at the hub: the site's next report goes up in full. */
  forget(siteId: string, itemId: number): void {
    if (this.#sites.get(siteId)?.forwarded.itemId === itemId) this.#sites.delete(siteId);
  }

  counts(): ReportCounts {
    return { forwarded: this.#forwarded, keptBack: this.#keptBack };
  }
}
