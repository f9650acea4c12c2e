// A simulated network link between a group of sites and the hub: a TCP proxy that can be cut (every
// connection reset, new ones refused) and healed. The agents' mTLS runs through it untouched, so a cut
// looks to them exactly like a lost uplink.

import net from 'node:net';

export interface Link {
  /** the hub's URL as the sites behind this link reach it */
  url: string;
  cut(): void;
  heal(): void;
  close(): Promise<void>;
}

/** Opens a link to the hub at `target` (https://host:port) on a free local port. */
export async function openLink(target: string): Promise<Link> {
  const upstream = new URL(target);
  const sockets = new Set<net.Socket>();
  let isCut = false;
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
  };
  const server = net.createServer((client) => {
    track(client);
    if (isCut) {
      client.resetAndDestroy();
      return;
    }
    const hub = net.connect(Number(upstream.port), upstream.hostname);
    track(hub);
    client.pipe(hub).pipe(client);
    client.on('close', () => hub.destroy());
    hub.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `${upstream.protocol}//127.0.0.1:${port}`,
    cut() {
      isCut = true;
      for (const s of sockets) s.destroy();
    },
    heal() {
      isCut = false;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
