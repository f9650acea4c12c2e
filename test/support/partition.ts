// A network between an agent and its hub that a test can cut and heal: a TCP proxy in front of the hub
// (the agent's mTLS runs through it untouched) that resets every connection while cut. What the hub
// received is recorded where it arrives — the hub's own report intake — so a test can see that queued
// reports reach it in order and that none is accepted twice; an answer can be lost on the way back.

import net from 'node:net';
import type { HubContext } from '../../src/hub/context.ts';
import type { DeploymentReport } from '../../src/model/wire.ts';

export interface ReportSeen {
  /** the site's id */
  siteId: string;
  seq: number;
  /** the hub's answer; undefined when the answer never reached the agent */
  accepted: boolean | undefined;
  /** what the report said, per bundle */
  states: Record<string, string>;
  deployments: DeploymentReport[];
}

export interface PartitionProxy {
  url: string;
  /** every report the hub received, in arrival order */
  reports: ReportSeen[];
  /** from now on every connection is reset, open ones included (long-polls, keep-alive sockets) */
  cut(): void;
  heal(): void;
  /** the next report reaches the hub, but its answer is lost on the way back */
  loseNextReportAnswer(): void;
  /** records at this hub's intake from now on (a hub restarted behind the same address) */
  retarget(hub: HubContext): void;
  close(): Promise<void>;
}

export async function startPartitionProxy(target: string, hub: HubContext): Promise<PartitionProxy> {
  const upstream = new URL(target);
  const sockets = new Set<net.Socket>();
  let isCut = false;
  let loseAnswer = false;
  const reports: ReportSeen[] = [];
  const resetAll = () => {
    for (const s of sockets) s.destroy();
  };

  // Record at the hub's intake: the real ingestion runs, then the outcome is noted.
  let intake = hub.reports;
  let submit = intake.submit.bind(intake);
  const record = (target: HubContext['reports']) => {
    intake = target;
    submit = target.submit.bind(target);
    const real = submit;
    target.submit = async (site, report) => {
      const ack = await real(site, report);
      const lose = loseAnswer;
      loseAnswer = false;
      reports.push({
        siteId: site.id,
        seq: report.seq,
        accepted: lose ? undefined : ack.accepted,
        states: Object.fromEntries(report.deployments.map((d) => [d.bundle, d.state])),
        deployments: report.deployments,
      });
      // the hub has stored it; the connection carrying the answer goes down before the answer does
      if (lose) resetAll();
      return ack;
    };
  };
  record(hub.reports);

  const server = net.createServer((client) => {
    if (isCut) {
      client.destroy();
      return;
    }
    const toHub = net.connect(Number(upstream.port), upstream.hostname);
    for (const s of [client, toHub]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        toHub.destroy();
      });
    }
    client.pipe(toHub);
    toHub.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`,
    reports,
    cut() {
      isCut = true;
      resetAll();
    },
    heal() {
      isCut = false;
    },
    loseNextReportAnswer() {
      loseAnswer = true;
    },
    retarget(next) {
      intake.submit = submit;
      record(next.reports);
    },
    close: () =>
      new Promise<void>((resolve) => {
        intake.submit = submit;
        resetAll();
        server.close(() => resolve());
      }),
  };
}
