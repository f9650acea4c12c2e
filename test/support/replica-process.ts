// A hub replica in a process of its own, so a test can kill it outright (SIGKILL) and see what the
// others make of a replica that vanishes without closing anything. Prints {"url": …} once it listens.
// Usage: node test/support/replica-process.ts '{"database":…,"dataDir":…,"caCertFile":…,"caKeyFile":…}'

import { startHub } from '../../src/hub/start.ts';

const opts = JSON.parse(process.argv[2] ?? '{}') as {
  database: string;
  dataDir: string;
  caCertFile: string;
  caKeyFile: string;
};
const hub = await startHub({
  ...opts,
  listen: '127.0.0.1:0',
  maxWaitSeconds: 10,
  rollouts: { tickIntervalMs: 200 },
  postgres: { leaderCheckMs: 200 },
});
process.stdout.write(`${JSON.stringify({ url: hub.url })}\n`);
process.on('SIGTERM', () => {
  void hub.close().then(() => process.exit(0));
});
