// Site profiles at the hub: immutable revisions stored from the API or a source's fleet repository,
// each new one checked against the last (no Kubernetes minor skipped or undone), and each site's
// conformance to the revision it is given, judged on read from what its agent last reported.

import { OutpostError } from '../../model/errors.ts';
import { type ProfileSpec, profileChangeProblem } from '../../model/profile.ts';
import type {
  ProfileConformance,
  ProfileDetail,
  ProfileView,
  SiteConformanceView,
  SiteStackView,
} from '../../model/profile-wire.ts';
import type { SiteStack } from '../../model/site-stack.ts';
import { parseYamlFile } from '../../render/bundle-files.ts';
import { digestOf } from '../../render/digest.ts';
import { isFleetDocument, parseFleetDocument } from '../../render/fleet-documents.ts';
import type { ProfileDocument } from '../../render/profile-document.ts';
import type { PlacementRules } from '../../select/placement.ts';
import { type Actor, audit } from '../audit/audit.ts';
import type { HubContext } from '../context.ts';
import type { Db, ProfileRevisionTable } from '../store/schema.ts';
import { conformanceCounts } from './conformance-kept.ts';
import { conformanceStates, siteConformance } from './core/conformance.ts';
import { compileProfiles, matchProfile } from './core/matching.ts';
import { startProfileRollout } from './profile-rollouts.ts';
import { runningBundles } from './site-conformance.ts';
import { targetProfiles } from './targets.ts';

interface StoredRevision {
  revision: number;
  spec: ProfileSpec;
  placement: PlacementRules;
  digest: string;
  createdAt: string;
}

function revisionOf(row: ProfileRevisionTable): StoredRevision {
  return {
    revision: Number(row.revision),
    spec: JSON.parse(row.spec),
    placement: JSON.parse(row.placement),
    digest: row.digest,
    createdAt: row.created_at,
  };
}

/** Reads Profile documents from files sent to the API; anything else in them is refused by line. */
export function profilesFromFiles(
  files: ReadonlyArray<{ path: string; content: string }>,
): ProfileDocument[] {
  const docs: ProfileDocument[] = [];
  for (const file of files) {
    for (const doc of parseYamlFile(file)) {
      const value = doc.value as Record<string, unknown>;
      if (!isFleetDocument(value) || value.kind !== 'Profile')
        throw new OutpostError(
          'request_invalid',
          'only kind: Profile (apiVersion outpost.dev/v1) is applied here',
          {
            file: doc.file,
            line: doc.line,
          },
        );
      docs.push(parseFleetDocument(value, doc) as ProfileDocument);
    }
  }
  if (docs.length === 0) throw new OutpostError('request_invalid', 'no Profile document in the files');
  const names = new Set<string>();
  for (const d of docs) {
    if (names.has(d.name))
      throw new OutpostError('bundle_invalid', `Profile ${d.name} is written twice`, {
        file: d.file,
        line: d.line,
      });
    names.add(d.name);
  }
  return docs;
}

async function latestRevision(db: Db, name: string): Promise<StoredRevision | undefined> {
  const row = await db
    .selectFrom('profile_revisions')
    .selectAll()
    .where('profile', '=', name)
    .orderBy('revision', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row ? revisionOf(row) : undefined;
}

/** Why a new revision may not follow the stored one, at the document's line, or undefined. */
async function changeError(db: Db, doc: ProfileDocument): Promise<OutpostError | undefined> {
  const previous = await latestRevision(db, doc.name);
  const problem = previous && profileChangeProblem(previous.spec, doc.spec);
  if (!problem) return undefined;
  return new OutpostError('bundle_invalid', `Profile ${doc.name} spec.${problem.path}: ${problem.message}`, {
    file: doc.file,
    line: doc.line,
  });
}

/**
 * Stores a profile's document as a new revision when it differs from the latest one; the same
 * document again changes nothing. Inside the caller's transaction.
 */
async function storeRevision(
  ctx: HubContext,
  tx: Db,
  doc: ProfileDocument,
  origin: { source: string | null; commit?: string; by: string },
): Promise<{ revision: number; changed: boolean }> {
  const now = ctx.now();
  const digest = digestOf({ spec: doc.spec, placement: doc.placement });
  const owner = await tx
    .selectFrom('profiles')
    .select(['source'])
    .where('name', '=', doc.name)
    .executeTakeFirst();
  if (owner && owner.source !== origin.source) {
    const by = owner.source ? `source ${owner.source}` : 'the API';
    throw new OutpostError('conflict', `profile ${doc.name} comes from ${by}; change it there`, {
      file: doc.file,
      line: doc.line,
    });
  }
  const previous = await latestRevision(tx, doc.name);
  if (previous?.digest === digest) return { revision: previous.revision, changed: false };
  const error = await changeError(tx, doc);
  if (error) throw error;
  const revision = (previous?.revision ?? 0) + 1;
  const at = now.toISOString();
  if (owner)
    await tx.updateTable('profiles').set({ revision, updated_at: at }).where('name', '=', doc.name).execute();
  else
    await tx
      .insertInto('profiles')
      .values({ name: doc.name, revision, source: origin.source, created_at: at, updated_at: at })
      .execute();
  await tx
    .insertInto('profile_revisions')
    .values({
      profile: doc.name,
      revision,
      spec: JSON.stringify(doc.spec),
      placement: JSON.stringify(doc.placement),
      digest,
      commit: origin.commit ?? null,
      created_at: at,
    })
    .execute();
  if (previous)
    await startProfileRollout(ctx, tx, {
      profile: doc.name,
      from: previous.revision,
      to: revision,
      profileSpec: doc.spec,
      by: origin.by,
    });
  return { revision, changed: true };
}

/** Creates profiles or new revisions of them from documents sent through the API, all or none. */
export async function applyProfiles(
  ctx: HubContext,
  actor: Actor,
  files: ReadonlyArray<{ path: string; content: string }>,
): Promise<Array<{ name: string; revision: number; changed: boolean }>> {
  const docs = profilesFromFiles(files);
  const results = await ctx.store.db.transaction().execute(async (tx) => {
    const results = [];
    for (const doc of docs) {
      const stored = await storeRevision(ctx, tx, doc, { source: null, by: actor.name });
      if (stored.changed)
        await audit(tx, ctx.now(), actor, 'profile.apply', `profile/${doc.name}`, {
          revision: stored.revision,
        });
      results.push({ name: doc.name, ...stored });
    }
    return results;
  });
  if (results.some((r) => r.changed)) await targetProfiles(ctx);
  return results;
}

/** Problems with a source's profiles before its commit is stored: a forbidden change, another owner. */
export async function profileConflicts(db: Db, source: string, docs: readonly ProfileDocument[]) {
  const owners = new Map(
    (await db.selectFrom('profiles').select(['name', 'source']).execute()).map((r) => [r.name, r.source]),
  );
  const errors: OutpostError[] = [];
  for (const d of docs) {
    if (owners.has(d.name) && owners.get(d.name) !== source) {
      const owner = owners.get(d.name) ? `source ${owners.get(d.name)}` : 'the API';
      errors.push(
        new OutpostError('conflict', `profile ${d.name} already comes from ${owner}`, {
          file: d.file,
          line: d.line,
        }),
      );
      continue;
    }
    const error = await changeError(db, d);
    if (error) errors.push(error);
  }
  return errors;
}

/**
 * Stores a source's profiles as its commit has them, in the sync's transaction (a new revision starts its
 * rollout); a profile the commit no longer has is deleted with its revisions. Returns what changed, as
 * `Profile/NAME`.
 */
export async function syncProfiles(
  ctx: HubContext,
  tx: Db,
  by: string,
  source: string,
  commit: string,
  docs: readonly ProfileDocument[],
): Promise<{ changed: string[]; deleted: string[] }> {
  const changed: string[] = [];
  for (const d of docs) {
    if ((await storeRevision(ctx, tx, d, { source, commit, by })).changed) changed.push(`Profile/${d.name}`);
  }
  const rows = await tx.selectFrom('profiles').select('name').where('source', '=', source).execute();
  const deleted = rows.map((r) => r.name).filter((name) => !docs.some((d) => d.name === name));
  if (deleted.length > 0) {
    await tx.deleteFrom('profile_revisions').where('profile', 'in', deleted).execute();
    await tx.deleteFrom('profiles').where('name', 'in', deleted).execute();
  }
  return { changed, deleted: deleted.map((n) => `Profile/${n}`) };
}

interface FleetConformance {
  /** per profile: its latest revision and each following site's conformance */
  byProfile: Map<string, { revision: StoredRevision; sites: SiteConformanceView[] }>;
  conflicts: Array<{ site: string; profiles: string[]; message: string }>;
}

/**
 * Matches every active site to at most one profile and judges it against the revision it is given
 * (profile_targets); the upgrade deadline counts from when it was given it. A site matched before its
 * target is written is judged against the latest revision since it or the site came, whichever is later.
 */
async function fleetConformance(ctx: HubContext): Promise<FleetConformance> {
  const db = ctx.store.db;
  const profiles = await db.selectFrom('profiles').select(['name', 'revision']).execute();
  const revisions = new Map<string, StoredRevision>();
  for (const p of profiles) {
    const row = await db
      .selectFrom('profile_revisions')
      .selectAll()
      .where('profile', '=', p.name)
      .where('revision', '=', p.revision)
      .executeTakeFirstOrThrow();
    revisions.set(p.name, revisionOf(row));
  }
  const compiled = compileProfiles([...revisions].map(([name, r]) => ({ name, placement: r.placement })));
  const sites = await db
    .selectFrom('sites')
    .select(['id', 'name', 'labels', 'properties', 'stack', 'registered_at'])
    .where('lifecycle', '=', 'Active')
    .orderBy('name')
    .execute();
  const bySite = await runningBundles(db);
  const targets = new Map(
    (
      await db.selectFrom('profile_targets').select(['site_id', 'profile', 'revision', 'since']).execute()
    ).map((t) => [t.site_id, t]),
  );
  const given = new Map<string, StoredRevision>();
  const revisionGiven = async (profile: string, revision: number): Promise<StoredRevision> => {
    const key = `${profile}@${revision}`;
    let stored = given.get(key);
    if (!stored) {
      const row = await db
        .selectFrom('profile_revisions')
        .selectAll()
        .where('profile', '=', profile)
        .where('revision', '=', revision)
        .executeTakeFirstOrThrow();
      stored = revisionOf(row);
      given.set(key, stored);
    }
    return stored;
  };
  const out: FleetConformance = { byProfile: new Map(), conflicts: [] };
  for (const [name, revision] of revisions) out.byProfile.set(name, { revision, sites: [] });
  const now = ctx.now();
  for (const site of sites) {
    const match = matchProfile(compiled, {
      name: site.name,
      labels: JSON.parse(site.labels),
      properties: JSON.parse(site.properties),
    });
    if (match.kind === 'conflict') {
      out.conflicts.push({ site: site.name, profiles: match.profiles, message: match.message });
      continue;
    }
    if (match.kind !== 'matched') continue;
    const entry = out.byProfile.get(match.profile)!;
    const target = targets.get(site.id);
    const onTarget = target?.profile === match.profile;
    const revision = onTarget ? await revisionGiven(target.profile, Number(target.revision)) : entry.revision;
    const since = onTarget
      ? new Date(target.since)
      : new Date(Math.max(Date.parse(entry.revision.createdAt), Date.parse(site.registered_at)));
    const judged = siteConformance({
      spec: revision.spec,
      since,
      stack: site.stack ? (JSON.parse(site.stack) as SiteStack) : undefined,
      bundles: bySite.get(site.id) ?? new Map(),
      now,
    });
    entry.sites.push({ site: site.name, revision: revision.revision, ...judged });
  }
  return out;
}

function countStates(states: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(conformanceStates.map((s) => [s, 0]));
  for (const s of states) counts[s] = (counts[s] ?? 0) + 1;
  return counts;
}

async function profileRow(db: Db, name: string) {
  const row = await db.selectFrom('profiles').selectAll().where('name', '=', name).executeTakeFirst();
  if (!row) throw new OutpostError('not_found', `no profile named ${name}`);
  return row;
}

/** Every profile with its sites counted by conformance state, as kept (conformance-kept.ts). */
export async function listProfiles(ctx: HubContext): Promise<ProfileView[]> {
  const rows = await ctx.store.db.selectFrom('profiles').selectAll().orderBy('name').execute();
  const kept = await conformanceCounts(ctx.store.db);
  return rows.map((r) => ({
    name: r.name,
    revision: Number(r.revision),
    ...(r.source ? { source: r.source } : {}),
    counts: { ...countStates([]), ...Object.fromEntries(kept.get(r.name) ?? []) },
    updatedAt: r.updated_at,
  }));
}

export async function profileDetail(ctx: HubContext, name: string): Promise<ProfileDetail> {
  const row = await profileRow(ctx.store.db, name);
  const revisions = await ctx.store.db
    .selectFrom('profile_revisions')
    .selectAll()
    .where('profile', '=', name)
    .orderBy('revision', 'desc')
    .execute();
  const view = (await listProfiles(ctx)).find((p) => p.name === row.name)!;
  return {
    ...view,
    revisions: revisions.map((r) => ({
      revision: Number(r.revision),
      spec: JSON.parse(r.spec),
      placement: JSON.parse(r.placement),
      digest: r.digest,
      createdAt: r.created_at,
      ...(r.commit ? { commit: r.commit } : {}),
    })),
  };
}

/** Each site following the profile with its conformance, counts by state and by layer, and conflicts. */
export async function profileConformance(ctx: HubContext, name: string): Promise<ProfileConformance> {
  const row = await profileRow(ctx.store.db, name);
  const fleet = await fleetConformance(ctx);
  const entry = fleet.byProfile.get(row.name)!;
  const layers: Record<string, Record<string, number>> = {};
  for (const site of entry.sites) {
    for (const l of site.layers) {
      layers[l.layer] ??= countStates([]);
      layers[l.layer]![l.state]! += 1;
    }
  }
  return {
    profile: row.name,
    revision: entry.revision.revision,
    counts: countStates(entry.sites.map((s) => s.state)),
    layers,
    sites: entry.sites,
    conflicts: fleet.conflicts
      .filter((c) => c.profiles.includes(row.name))
      .map((c) => ({ site: c.site, message: c.message })),
  };
}

/** What one site reported it runs beneath its bundles, and how that stands against its profile. */
export async function siteStack(ctx: HubContext, name: string): Promise<SiteStackView> {
  const row = await ctx.store.db
    .selectFrom('sites')
    .select(['name', 'stack', 'stack_at'])
    .where('name', '=', name)
    .executeTakeFirst();
  if (!row) throw new OutpostError('not_found', `no site named ${name}`);
  const fleet = await fleetConformance(ctx);
  const followed = [...fleet.byProfile].flatMap(([profile, e]) =>
    e.sites.filter((s) => s.site === name).map((s) => ({ profile, conformance: s })),
  )[0];
  const conflict = fleet.conflicts.find((c) => c.site === name);
  return {
    site: row.name,
    stack: row.stack ? JSON.parse(row.stack) : null,
    reportedAt: row.stack_at,
    profile: followed?.profile ?? null,
    conformance: followed?.conformance ?? null,
    ...(conflict ? { conflict: conflict.message } : {}),
  };
}
