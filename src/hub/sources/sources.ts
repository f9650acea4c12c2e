// Sources at the hub (git repositories and OCI artifacts): configured through the operator API (admin,
// audited), synced by the poller, a webhook or by hand. A sync is atomic: every bundle of a revision
// becomes a new bundle revision (with the commit or digest on it), its SLOs, strategies and profiles
// are stored, and what is gone from the repository is deleted, in one transaction — or, when any
// definition is invalid, nothing changes and the revision is recorded as rejected with every error.

import { randomBytes } from 'node:crypto';
import { OutpostError } from '../../model/errors.ts';
import type { Problem, SourceRequest, SourceView, SyncResult } from '../../model/fleet-wire.ts';
import { type Actor, audit } from '../audit/audit.ts';
import { renderFailures } from '../bundles/bundles.ts';
import { sourceDependencyErrors, storedDependencies } from '../bundles/dependencies.ts';
import { storeRevision } from '../bundles/revisions.ts';
import type { HubContext } from '../context.ts';
import { saveChart } from '../generators/charts.ts';
import { markPlacementDue, placeBundles } from '../placement/place.ts';
import { storeRendering } from '../placement/renderings.ts';
import { profileConflicts, syncProfiles } from '../profiles/profiles.ts';
import { targetProfiles } from '../profiles/targets.ts';
import { followRevision } from '../rollout/rollouts.ts';
import {
  resolveStrategy,
  storedStrategyNames,
  strategyConflicts,
  syncStrategies,
} from '../rollout/strategies.ts';
import { sloConflicts, syncSlos } from '../slo/slos.ts';
import type { SourceTable } from '../store/schema.ts';
import { readSourceRevision } from './fleet-read.ts';
import { fleetSourceOf, isOciUrl } from './fleet-source.ts';
import { isSshUrl, sshAuthProblems } from './git-ssh.ts';
import { parseOciUrl, semverRange } from './oci.ts';
import { cosignPublicKey } from './signatures.ts';

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
    kind: isOciUrl(row.url) ? 'oci' : 'git',
    url: row.url,
    ref: row.ref,
    ...(row.semver ? { semver: row.semver } : {}),
    ...(Number(row.insecure) === 1 ? { insecure: true } : {}),
    ...(row.verify_key ? { verifyKey: row.verify_key } : {}),
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

/** What `source add` may combine: each kind takes its own ref and credentials, and no secret in the URL. */
function checkSourceRequest(req: SourceRequest): void {
  const invalid = (message: string) => new OutpostError('request_invalid', message);
  const auth = req.auth ?? {};
  const sshFields = ['privateKeyFile', 'privateKeyEnv', 'knownHosts'] as const;
  const given = (fields: readonly string[]) =>
    fields.filter((f) => (auth as Record<string, unknown>)[f] !== undefined);
  if (isOciUrl(req.url)) {
    parseOciUrl(req.url);
    if (req.semver !== undefined) semverRange(req.semver);
    if (req.verifyKey !== undefined) cosignPublicKey(req.verifyKey);
    if (req.semver !== undefined && req.ref !== undefined)
      throw invalid('give an OCI source a tag (ref) or a semver range, not both');
    const other = given([...sshFields, 'tokenEnv']);
    if (other.length > 0)
      throw invalid(`an OCI source takes username and passwordEnv, not ${other.join(', ')}`);
    return;
  }
  if (req.semver !== undefined || req.insecure !== undefined || req.verifyKey !== undefined) {
    throw invalid(
      'semver, insecure and verifyKey are for OCI sources (oci://…); a git source follows a branch or tag',
    );
  }
  if (isSshUrl(req.url)) {
    const other = given(['username', 'passwordEnv', 'tokenEnv']);
    if (other.length > 0)
      throw invalid(`an SSH source takes a deploy key and knownHosts, not ${other.join(', ')}`);
    const problems = sshAuthProblems(req.url, auth);
    if (problems.length > 0) throw invalid(problems.join('; '));
    return;
  }
  if (/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(req.url)) {
    throw invalid(
      'put no credentials in the URL; name environment variables in auth (passwordEnv, tokenEnv) instead',
    );
  }
  if (!/^(https?|file):\/\//i.test(req.url) && /^[a-z][a-z0-9+.-]*:/i.test(req.url)) {
    throw invalid(
      'a source URL is http(s)://, ssh://, USER@HOST:PATH, file://, a path on the hub, or oci://HOST/REPOSITORY',
    );
  }
  const ssh = given(sshFields);
  if (ssh.length > 0) throw invalid(`${ssh.join(', ')} are for git over SSH (ssh://… or USER@HOST:PATH)`);
}

export async function addSource(
  ctx: HubContext,
  actor: Actor,
  req: SourceRequest,
): Promise<{ view: SourceView; webhookSecret: string }> {
  checkSourceRequest(req);
  const webhookSecret = randomBytes(32).toString('base64url');
  const row: SourceTable = {
    name: req.name,
    url: req.url,
    ref: req.ref ?? (isOciUrl(req.url) ? 'latest' : 'main'),
    semver: req.semver ?? null,
    insecure: req.insecure ? 1 : 0,
    verify_key: req.verifyKey ?? null,
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

/**
 * Removes a source; its bundles, SLOs and strategies stay, now managed through the API (deleting them
 * is a separate decision).
 */
export async function deleteSource(ctx: HubContext, actor: Actor, name: string): Promise<void> {
  await ctx.store.db.transaction().execute(async (tx) => {
    const deleted = await tx.deleteFrom('sources').where('name', '=', name).executeTakeFirst();
    if (Number(deleted.numDeletedRows) === 0) throw new OutpostError('not_found', `no source named ${name}`);
    await tx.updateTable('bundles').set({ source: null }).where('source', '=', name).execute();
    await tx.updateTable('slos').set({ source: null }).where('source', '=', name).execute();
    await tx.updateTable('rollout_strategies').set({ source: null }).where('source', '=', name).execute();
    await audit(tx, ctx.now(), actor, 'source.delete', `source/${name}`);
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

/** A changed document that moves profile targets: syncProfiles names them `Profile/NAME`. */
const isProfile = (document: string) => document.startsWith('Profile/');

async function syncNow(
  ctx: HubContext,
  actor: Actor,
  name: string,
  opts: { force?: boolean },
): Promise<SyncResult> {
  const db = ctx.store.db;
  const row = await sourceRow(ctx, name);
  const attempted = ctx.now().toISOString();
  const source = fleetSourceOf(ctx, row);
  let commit: string;
  try {
    commit = await source.fetch();
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

  const stored = await storedDependencies(db);
  const elsewhere = new Set([...stored].filter(([, d]) => d.source !== name).map(([bundle]) => bundle));
  const read = await readSourceRevision(ctx, source, commit, {
    knownBundles: elsewhere,
    strategies: await storedStrategyNames(db, name),
  });
  const { definitions, documents, errors } = read;
  errors.push(
    ...sourceDependencyErrors(
      stored,
      name,
      new Map(
        definitions.map((d) => [
          d.parsed.definition.name,
          { dependsOn: d.parsed.definition.fleet.dependsOn, file: d.files[0]!.path },
        ]),
      ),
    ),
  );
  const present = new Set(definitions.map((d) => d.parsed.definition.name));
  const slos = documents.filter((d) => d.kind === 'SLO');
  const strategies = documents.filter((d) => d.kind === 'RolloutStrategy');
  const profiles = documents.filter((d) => d.kind === 'Profile');
  errors.push(...(await sloConflicts(ctx, name, slos)));
  errors.push(...(await strategyConflicts(db, name, strategies, present)));
  errors.push(...(await profileConflicts(db, name, profiles)));
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

  const result = await db.transaction().execute(async (tx) => {
    const now = ctx.now().toISOString();
    // what generated bundles were made from: their charts, and what Helm made of them
    for (const files of read.charts.values()) await saveChart(tx, files, now);
    for (const r of read.renderings) await storeRendering(tx, r.wanted, r.rendering, now);
    // strategies first: the commit's bundles may name the ones it brings
    const strategyChanges = await syncStrategies(tx, now, name, strategies);
    const changed: string[] = [];
    for (const d of definitions) {
      const stored = await storeRevision(tx, ctx.now(), d.parsed, { source: name, commit });
      if (stored.changed) {
        changed.push(d.parsed.definition.name);
        await followRevision(ctx, tx, {
          bundle: d.parsed.definition.name,
          previous: stored.previous,
          revision: stored.revision,
          strategy: await resolveStrategy(tx, d.parsed.definition.fleet.rollout),
          by: actor.name,
        });
      }
    }
    const sloChanges = await syncSlos(ctx, tx, name, slos);
    const profileChanges = await syncProfiles(ctx, tx, actor.name, name, commit, profiles);
    const gone = await tx.selectFrom('bundles').select('name').where('source', '=', name).execute();
    const deleted = gone.map((b) => b.name).filter((b) => !present.has(b));
    if (deleted.length > 0) await tx.deleteFrom('bundles').where('name', 'in', deleted).execute();
    await tx
      .updateTable('sources')
      .set({ synced_commit: commit, synced_at: ctx.now().toISOString() })
      .where('name', '=', name)
      .execute();
    const documentChanges = {
      changed: [...strategyChanges.changed, ...sloChanges.changed, ...profileChanges.changed],
      deleted: [...strategyChanges.deleted, ...sloChanges.deleted, ...profileChanges.deleted],
    };
    await audit(tx, ctx.now(), actor, 'source.sync', `source/${name}`, {
      commit,
      changed,
      deleted,
      documents: documentChanges,
    });
    await markPlacementDue(ctx, tx, [...changed, ...deleted]);
    return { changed, deleted, documents: documentChanges };
  });
  const touched = [...result.changed, ...result.deleted];
  if (result.documents.changed.some(isProfile) || result.documents.deleted.some(isProfile))
    await targetProfiles(ctx);
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
