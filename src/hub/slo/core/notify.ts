// Alert notifications, pure: when an alert's state is worth a message (dedup and repeat), the
// Alertmanager webhook body (version 4) that carries it, and the retry schedule of a failed delivery.

export interface AlertInstance {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  /** set once resolved */
  endsAt?: string;
}

/** Alertmanager's "not ended" time. */
const zeroTime = '0001-01-01T00:00:00Z';

/**
 * Alertmanager's label-set fingerprint: FNV-1a 64 over the sorted names and values, each followed by
 * the 0xff separator, as 16 hex digits.
 *
 * @example
 * fingerprint({ alertname: 'SloFastBurn', slo: 'pos' }) === fingerprint({ slo: 'pos', alertname: 'SloFastBurn' }); // true
 */
export function fingerprint(labels: Record<string, string>): string {
  let h = 0xcbf29ce484222325n;
  const prime = 0x100000001b3n;
  const mask = 0xffffffffffffffffn;
  const feed = (bytes: Uint8Array) => {
    for (const b of bytes) h = ((h ^ BigInt(b)) * prime) & mask;
  };
  const enc = new TextEncoder();
  for (const name of Object.keys(labels).sort()) {
    feed(enc.encode(name));
    feed(Uint8Array.of(0xff));
    feed(enc.encode(labels[name]!));
    feed(Uint8Array.of(0xff));
  }
  return h.toString(16).padStart(16, '0');
}

/**
 * The Alertmanager webhook body for one alert (one alert per group: the group is the SLO and rule).
 *
 * @example
 * webhookMessage('ops', { status: 'firing', labels: { alertname: 'SloFastBurn' }, annotations: {}, startsAt: 't' }, 'https://hub').version; // '4'
 */
export function webhookMessage(receiver: string, alert: AlertInstance, externalURL: string) {
  const groupLabels = { alertname: alert.labels.alertname ?? '', slo: alert.labels.slo ?? '' };
  return {
    version: '4',
    groupKey: `{}:{alertname="${groupLabels.alertname}", slo="${groupLabels.slo}"}`,
    truncatedAlerts: 0,
    status: alert.status,
    receiver,
    groupLabels,
    commonLabels: alert.labels,
    commonAnnotations: alert.annotations,
    externalURL,
    alerts: [
      {
        status: alert.status,
        labels: alert.labels,
        annotations: alert.annotations,
        startsAt: alert.startsAt,
        endsAt: alert.endsAt ?? zeroTime,
        generatorURL: externalURL,
        fingerprint: fingerprint(alert.labels),
      },
    ],
  };
}

/** What is known about an alert's last notification. */
export interface AlertMemory {
  status: 'firing' | 'resolved';
  /** ISO time a firing message was last queued */
  notifiedAt: string | null;
}

/**
 * Whether an evaluation should send a message: a new firing alert, a firing one again only after the
 * repeat interval, a resolution once (and only for an alert that fired).
 *
 * @example
 * notification(undefined, true, new Date(0), 3_600_000); // 'firing'
 * notification({ status: 'firing', notifiedAt: new Date(0).toISOString() }, true, new Date(60_000), 3_600_000); // null
 * notification({ status: 'firing', notifiedAt: new Date(0).toISOString() }, false, new Date(60_000), 3_600_000); // 'resolved'
 * notification({ status: 'resolved', notifiedAt: null }, false, new Date(60_000), 3_600_000); // null
 */
export function notification(
  last: AlertMemory | undefined,
  firing: boolean,
  now: Date,
  repeatMs: number,
): 'firing' | 'resolved' | null {
  if (firing) {
    if (!last || last.status === 'resolved' || last.notifiedAt === null) return 'firing';
    return now.getTime() - Date.parse(last.notifiedAt) >= repeatMs ? 'firing' : null;
  }
  return last?.status === 'firing' ? 'resolved' : null;
}

/**
 * Delay before delivery attempt `attempt + 1` after `attempt` failures: doubling from `baseMs`, capped.
 *
 * @example
 * [1, 2, 3, 10].map((n) => retryDelayMs(n, 1000, 60_000)); // [1000, 2000, 4000, 60000]
 */
export function retryDelayMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
}
