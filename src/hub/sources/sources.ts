// Git sources at the hub: configured through the operator API (admin, audited), synced by the poller,
// a webhook or by hand. A sync is atomic: every bundle of a commit becomes a new revision (with the
// commit on it) and bundles gone from the repository are deleted, in one transaction — or, when any
// definition is invalid, nothing changes and the commit is recorded as rejected with every error.

import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OutpostError } from '../../model/errors.ts';
import type { Problem, SourceRequest, SourceView, SyncResult } from '../../model/fleet-wire.ts';
import { type Actor, audit } from '../audit/audit.ts';
import { renderFailures } from '../bundles/bundles.ts';
import { readFleet } from '../bundles/definitions.ts';
import { storeRevision } from '../bundles/revisions.ts';
import type { HubContext } from '../context.ts';
import { placeBundles } from '../placement/place.ts';
import { followRevision, strategyOf } from '../rollout/rollouts.ts';
import type { SourceTable } from '../store/schema.ts';
import { type GitAuth, type GitSource, openGitSource } from './git.ts';

export function problemOf(e: OutpostError): Problem {
  const p: Problem = { code: e.code, message: e.message };
  if (e.location.file) p.file = e.location.file;
  if (e.location.line) p.line = e.location.line;
  if (e.site) p.site = e.site;
  return p;
}

export function sourceView(row: SourceTable): SourceView {
  return {
    name: row.name,
    url: row.url,
    ref: row.ref,
    path: row.path,
    intervalSeconds: Number(row.interval_seconds),
    auth: JSON.parse(row.auth),
    ...(row.team ? { team: row.team } : {}),
    webhook: `/hooks/git/${row.name}`,
    lastAttemptAt: row.last_attempt_at,
    lastError: row.last_error,
    synced: row.synced_commit ? { commit: row.synced_commit, at: row.synced_at! } : null,
    rejected: row.rejected_commit
      ? { commit: row.rejected_commit, at: row.rejected_at!, errors: JSON.parse(row.rejected_errors ?? '[]') }
      : null,
  };
}

export async function sourceRow(ctx: HubContext, name: string): Promise<SourceTable> {
  const row = await ctx.store.db
    .selectFrom('sources')
    .selectAll()
    .where('name', '=', name)
    .executeTakeFirst();
  if (!row) throw new OutpostError('not_found', `no source named ${name}`);
  return row;
}

export async function addSource(
  ctx: HubContext,
  actor: Actor,
  req: SourceRequest,
): Promise<{ view: SourceView; webhookSecret: string }> {
  if (/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(req.url)) {
    throw new OutpostError(
      'request_invalid',
      'put no credentials in the URL; name environment variables in auth (passwordEnv, tokenEnv) instead',
    );
  }
  if (!/^(https?|file):\/\//i.test(req.url) && /^[a-z][a-z0-9+.-]*:/i.test(req.url)) {
    throw new OutpostError(
      'request_invalid',
      'a source URL is http(s)://, file:// or a path on the hub (no SSH)',
    );
  }
  const webhookSecret = randomBytes(32).toString('base64url');
  const row: SourceTable = {
    name: req.name,
    url: req.url,
    ref: req.ref ?? 'main',
    path: (req.path ?? '').replace(/^\/+|\/+$/g, ''),
    interval_seconds: req.intervalSeconds ?? 60,
    auth: JSON.stringify(req.auth ?? {}),
    webhook_secret: webhookSecret,
    created_at: ctx.now().toISOString(),
    last_attempt_at: null,
    last_error: null,
    synced_commit: null,
    synced_at: null,
    rejected_commit: null,
    rejected_at: null,
    rejected_errors: null,
    team: req.team ?? null,
  };
  await ctx.store.db.transaction().execute(async (tx) => {
    const exists = await tx
      .selectFrom('sources')
      .select('name')
      .where('name', '=', req.name)
      .executeTakeFirst();
    if (exists) throw new OutpostError('conflict', `a source named ${req.name} exists; delete it first`);
    await tx.insertInto('sources').values(row).execute();
    const { webhook_secret: _secret, ...details } = row;
    await audit(tx, ctx.now(), actor, 'source.add', `source/${req.name}`, {
      ...details,
      auth: req.auth ?? {},
    });
  });
  return { view: sourceView(row), webhookSecret };
}

export async function listSources(ctx: HubContext): Promise<SourceView[]> {
  return (await ctx.store.db.selectFrom('sources').selectAll().orderBy('name').execute()).map(sourceView);
}

/** Removes a source; its bundles stay, now managed by hand (deleting them is a separate decision). */
export async function deleteSource(ctx: HubContext, actor: Actor, name: string): Promise<void> {
  await ctx.store.db.transaction().execute(async (tx) => {
    const deleted = await tx.deleteFrom('sources').where('name', '=', name).executeTakeFirst();
    if (Number(deleted.numDeletedRows) === 0) throw new OutpostError('not_found', `no source named ${name}`);
    await tx.updateTable('bundles').set({ source: null }).where('source', '=', name).execute();
    await audit(tx, ctx.now(), actor, 'source.delete', `source/${name}`);
  });
}

export function gitSourceOf(ctx: HubContext, row: SourceTable): GitSource {
  return openGitSource({
    name: row.name,
    url: row.url,
    ref: row.ref,
    path: row.path,
    auth: JSON.parse(row.auth) as GitAuth,
    cacheDir: ctx.config.sourcesDir ?? join(tmpdir(), 'outpost-sources'),
  });
}

// One sync per source at a time: the poller, a webhook and an operator may all ask at once.
const running = new WeakMap<HubContext, Map<string, Promise<SyncResult>>>();

/**
 * Syncs a source: fetch, read the commit, validate every definition, then apply all of it or none.
 * A commit already synced or already rejected is not read again unless `force` is set.
 */
export function syncSource(
  ctx: HubContext,
  actor: Actor,
  name: string,
  opts: { force?: boolean } = {},
): Promise<SyncResult> {
  let perCtx = running.get(ctx);
  if (!perCtx) {
    perCtx = new Map();
    running.set(ctx, perCtx);
  }
  const previous = perCtx.get(name) ?? Promise.resolve(undefined);
  const next = previous.catch(() => undefined).then(() => syncNow(ctx, actor, name, opts));
  perCtx.set(name, next);
  const map = perCtx;
  const forget = () => {
    if (map.get(name) === next) map.delete(name);
  };
  next.then(forget, forget);
  return next;
}

const empty = { changed: [], deleted: [], errors: [], failed: [] };

async function syncNow(
  ctx: HubContext,
  actor: Actor,
  name: string,
  opts: { force?: boolean },
): Promise<SyncResult> {
  const db = ctx.store.db;
  const row = await sourceRow(ctx, name);
  const attempted = ctx.now().toISOString();
  const git = gitSourceOf(ctx, row);
  let commit: string;
  try {
    commit = await git.fetch();
  } catch (e) {
    const err = e instanceof OutpostError ? e : new OutpostError('source_failed', (e as Error).message);
    await db
      .updateTable('sources')
      .set({ last_attempt_at: attempted, last_error: err.message })
      .where('name', '=', name)
      .execute();
    return { status: 'failed', ...empty, errors: [problemOf(err)] };
  }
  await db
    .updateTable('sources')
    .set({ last_attempt_at: attempted, last_error: null })
    .where('name', '=', name)
    .execute();
  if (!opts.force && commit === row.synced_commit) return { status: 'unchanged', commit, ...empty };
  if (!opts.force && commit === row.rejected_commit) {
    return { status: 'rejected', commit, ...empty, errors: JSON.parse(row.rejected_errors ?? '[]') };
  }

  const errors: OutpostError[] = [];
  let files: Awaited<ReturnType<GitSource['readFiles']>> = [];
  try {
    files = await git.readFiles(commit);
  } catch (e) {
    errors.push(e instanceof OutpostError ? e : new OutpostError('source_failed', (e as Error).message));
  }
  const { definitions, errors: invalid } = readFleet(files, ctx.config.limits);
  errors.push(...invalid);
  const owners = new Map(
    (await db.selectFrom('bundles').select(['name', 'source']).execute()).map((b) => [b.name, b.source]),
  );
  for (const d of definitions) {
    const owner = owners.get(d.parsed.definition.name);
    if (owner && owner !== name) {
      errors.push(
        new OutpostError(
          'conflict',
          `bundle ${d.parsed.definition.name} already comes from source ${owner}`,
          {
            file: d.files[0]!.path,
          },
        ),
      );
    }
  }

  if (errors.length > 0) {
    const problems = errors.map(problemOf);
    await db.transaction().execute(async (tx) => {
      await tx
        .updateTable('sources')
        .set({
          rejected_commit: commit,
          rejected_at: ctx.now().toISOString(),
          rejected_errors: JSON.stringify(problems),
        })
        .where('name', '=', name)
        .execute();
      await audit(tx, ctx.now(), actor, 'source.reject', `source/${name}`, { commit, errors: problems });
    });
    return { status: 'rejected', commit, ...empty, errors: problems };
  }

  const present = new Set(definitions.map((d) => d.parsed.definition.name));
  const result = await db.transaction().execute(async (tx) => {
    const changed: string[] = [];
    for (const d of definitions) {
      const stored = await storeRevision(tx, ctx.now(), d.parsed, { source: name, commit });
      if (stored.changed) {
        changed.push(d.parsed.definition.name);
        await followRevision(ctx, tx, {
          bundle: d.parsed.definition.name,
          previous: stored.previous,
          revision: stored.revision,
          strategy: strategyOf(d.parsed.definition.fleet.rollout),
          by: actor.name,
        });
      }
    }
    const gone = await tx.selectFrom('bundles').select('name').where('source', '=', name).execute();
    const deleted = gone.map((b) => b.name).filter((b) => !present.has(b));
    if (deleted.length > 0) await tx.deleteFrom('bundles').where('name', 'in', deleted).execute();
    await tx
      .updateTable('sources')
      .set({ synced_commit: commit, synced_at: ctx.now().toISOString() })
      .where('name', '=', name)
      .execute();
    await audit(tx, ctx.now(), actor, 'source.sync', `source/${name}`, { commit, changed, deleted });
    return { changed, deleted };
  });
  const touched = [...result.changed, ...result.deleted];
  if (touched.length > 0) await placeBundles(ctx, touched);
  const failed = (
    await Promise.all(
      result.changed.map(async (bundle) =>
        (await renderFailures(ctx, bundle)).map((f) => ({ bundle, ...f })),
      ),
    )
  ).flat();
  return { status: 'synced', commit, ...result, errors: [], failed };
}
