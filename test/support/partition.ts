// A network between an agent and its hub that a test can cut and heal: an HTTP proxy that forwards to the
// hub, resets every connection while cut, and records each report the agent sends and what the hub
// answered — so a test can see that queued reports arrive in order and that none is accepted twice.

import http from 'node:http';
import type net from 'node:net';
import type { DeploymentReport } from '../../src/model/wire.ts';

export interface ReportSeen {
  seq: number;
  /** the hub's answer; undefined when the answer never reached the agent */
  accepted: boolean | undefined;
  /** what the report said, per bundle */
  states: Record<string, string>;
  deployments: DeploymentReport[];
}

export interface PartitionProxy {
  url: string;
  /** every report the hub received through this proxy, in arrival order */
  reports: ReportSeen[];
  /** from now on every connection is reset, open ones included (long-polls, keep-alive sockets) */
  cut(): void;
  heal(): void;
  /** the next report reaches the hub, but its answer is lost on the way back */
  loseNextReportAnswer(): void;
  close(): Promise<void>;
}

export async function startPartitionProxy(target: string): Promise<PartitionProxy> {
  const upstream = new URL(target);
  const sockets = new Set<net.Socket>();
  let isCut = false;
  let loseAnswer = false;
  const reports: ReportSeen[] = [];
  const upstreamAgent = new http.Agent({ keepAlive: false });

  const server = http.createServer((req, res) => {
    if (isCut) {
      req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const isReport = req.method === 'POST' && req.url === '/agent/v1/report';
      const lose = isReport && loseAnswer;
      if (lose) loseAnswer = false;
      const forward = http.request(
        new URL(req.url ?? '/', upstream),
        { method: req.method, headers: req.headers, agent: upstreamAgent },
        (up) => {
          const answer: Buffer[] = [];
          up.on('data', (c: Buffer) => answer.push(c));
          up.on('end', () => {
            const text = Buffer.concat(answer).toString('utf8');
            if (isReport && up.statusCode === 200) {
              const sent = JSON.parse(body.toString('utf8')) as {
                seq: number;
                deployments: DeploymentReport[];
              };
              reports.push({
                seq: sent.seq,
                accepted: lose ? undefined : (JSON.parse(text) as { accepted: boolean }).accepted,
                states: Object.fromEntries(sent.deployments.map((d) => [d.bundle, d.state])),
                deployments: sent.deployments,
              });
            }
            if (lose || isCut) {
              req.socket.destroy();
              return;
            }
            res.writeHead(up.statusCode ?? 502, up.headers);
            res.end(text);
          });
        },
      );
      forward.on('error', () => req.socket.destroy());
      forward.end(body);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    reports,
    cut() {
      isCut = true;
      for (const s of sockets) s.destroy();
    },
    heal() {
      isCut = false;
    },
    loseNextReportAnswer() {
      loseAnswer = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        upstreamAgent.destroy();
        server.close(() => resolve());
      }),
  };
}
