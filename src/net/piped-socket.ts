// A socket's bytes on the plain end of an in-memory pipe, for HTTP/2 sessions over a connection that
// began as HTTP/1.1 (an upgrade): Node's HTTP/2 on such a TLS socket itself asserts in its native write
// path (hub side) or takes it for an HTTP/1.1 client because no ALPN was negotiated (agent side).

import { type Duplex, duplexPair } from 'node:stream';

/** The plain end; the socket and the pipe end together when either closes or fails. */
export function pipedSocket(socket: Duplex): Duplex {
  const [near, far] = duplexPair();
  socket.pipe(near).pipe(socket);
  const end = () => {
    near.destroy();
    far.destroy();
    socket.destroy();
  };
  socket.once('close', end);
  socket.once('error', end);
  far.once('close', end);
  return far;
}
