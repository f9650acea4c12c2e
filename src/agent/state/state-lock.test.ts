import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { StateLock } from './state-lock.ts';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-lock-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('one agent holds the state directory; the next waits, asks, and gets it once it is released', () =>
  withDir(async (dir) => {
    const old = new StateLock({ stateDir: dir, version: '0.1.0' });
    const next = new StateLock({ stateDir: dir, version: '0.2.0' });
    assert.equal(await old.tryAcquire(), true);
    assert.equal(await next.tryAcquire(), false);
    await next.request();
    assert.equal((await old.pendingRequest())?.version, '0.2.0');
    await old.release();
    assert.equal(await next.tryAcquire(), true);
    assert.equal(await next.pendingRequest(), undefined, 'taking the lock clears the request');
    await next.release();
  }));

test('a holder that stopped renewing is taken over after the lease; a dead process on this host at once', () =>
  withDir(async (dir) => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const clock = () => now;
    const away = new StateLock({ stateDir: dir, version: '0.1.0', now: clock, staleMs: 20_000 });
    assert.equal(await away.tryAcquire(), true);
    // the holder is this very process, so only the lease can tell
    const other = new StateLock({ stateDir: dir, version: '0.2.0', now: clock, staleMs: 20_000 });
    now += 19_000;
    assert.equal(await other.tryAcquire(), false);
    now += 2000;
    assert.equal(await other.tryAcquire(), true);

    // a holder on this host whose process is gone
    await other.release();
    const gone = {
      id: 'x',
      version: '0.1.0',
      host: hostname(),
      pid: 2 ** 22 + 7,
      renewedAt: new Date(now).toISOString(),
    };
    const taker = new StateLock({ stateDir: dir, version: '0.2.0', now: clock });
    assert.equal(await taker.tryAcquire(), true);
    await taker.release();
    await new StateLock({ stateDir: dir, version: '0.1.0', now: clock }).tryAcquire();
    await writeFile(join(dir, 'lock', 'holder.json'), JSON.stringify(gone));
    assert.equal(await new StateLock({ stateDir: dir, version: '0.2.0', now: clock }).tryAcquire(), true);
  }));
