// Tells a store that cannot take a write right now (disk full, database restarting, connection lost)
// from a bug: the first is a 503 an agent retries, the second stays a 500 for a person to read.

import { OutpostError } from '../../model/errors.ts';

/** SQLite primary result codes (the low byte of an extended code) that pass once the machine recovers. */
const sqliteTransient = new Map<number, string>([
  [5, 'the database is busy'],
  [6, 'the database is locked'],
  [7, 'the hub is out of memory'],
  [10, 'the disk could not be written'],
  [13, 'the disk is full'],
  [14, 'the database file cannot be opened'],
]);

/** PostgreSQL SQLSTATE classes and codes that pass once the server is back: connection, resources, shutdown. */
function postgresTransient(sqlstate: string): string | undefined {
  if (sqlstate.startsWith('08')) return 'the connection to PostgreSQL failed';
  if (sqlstate.startsWith('53')) return 'PostgreSQL is out of resources (disk, memory or connections)';
  if (sqlstate.startsWith('57P')) return 'PostgreSQL is shutting down or starting';
  return undefined;
}

const networkCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
]);

/** pg's own messages for a pool that lost or could not get a connection (they carry no code). */
const pgConnectionLost =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/;

/**
 * The `unavailable` error (503) for a store failure that retrying later can cure, or undefined for any
 * other error. The message names the cause for the hub log and the agent, never the SQL.
 *
 * @example
 * storeUnavailable(sqliteFullError)?.status // 503
 */
export function storeUnavailable(err: unknown): OutpostError | undefined {
  if (!(err instanceof Error)) return undefined;
  const e = err as Error & { code?: unknown; errcode?: unknown };
  let cause: string | undefined;
  if (e.code === 'ERR_SQLITE_ERROR' && typeof e.errcode === 'number')
    cause = sqliteTransient.get(e.errcode & 0xff);
  else if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) cause = postgresTransient(e.code);
  else if (typeof e.code === 'string' && networkCodes.has(e.code))
    cause = `the database cannot be reached (${e.code})`;
  else if (pgConnectionLost.test(e.message)) cause = 'the connection to PostgreSQL was lost';
  return cause === undefined
    ? undefined
    : new OutpostError('unavailable', `the hub's store cannot take this now: ${cause}; retry later`);
}
