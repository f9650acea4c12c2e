// Bundle revisions in the store: one immutable row per content change, whoever made it (`bundle apply`
// or a git sync, which records its commit on the revision). Unchanged content is not a new revision.

import type { Kysely } from 'kysely';
import { agentBundleName, parseAgentRelease } from '../../model/agent-release.ts';
import { OutpostError } from '../../model/errors.ts';
import type { KubeObject } from '../../model/manifest.ts';
import type { ParsedBundle } from '../../render/bundle-files.ts';
import type { ObjectOrigin } from '../../render/customize.ts';
import { digestOf } from '../../render/digest.ts';
import type { FleetSpec } from '../../render/fleet-spec.ts';
import type { StoredHelm } from '../../render/generator-spec.ts';
import type { Overlay } from '../../render/overlays.ts';
import { checkReleaseStored } from '../releases/releases.ts';
import { engineOf, storeSql } from '../store/dialect.ts';
import type { BundleTable, Database } from '../store/schema.ts';

export interface BundleLimits {
  /** total bytes of a bundle's files */
  maxBundleBytes: number;
  /** objects in one bundle */
  maxBundleObjects: number;
}

export const defaultLimits: BundleLimits = { maxBundleBytes: 8 * 1024 * 1024, maxBundleObjects: 2000 };

/** What a revision keeps beyond its selector and objects (stored as the revision's `fleet` JSON). */
export interface StoredFleet extends Partial<FleetSpec> {
  origins?: ObjectOrigin[];
  /** a chart bundle: the chart and values each site's objects are rendered from */
  helm?: StoredHelm;
}

/**
 * Refuses files over the byte limit before any of them is parsed (reading YAML is what costs), saying
 * which limit and by how much; never truncates. `what` names them: a bundle, or a file.
 */
export function checkBundleBytes(
  files: ReadonlyArray<{ path: string; content: string }>,
  limits: BundleLimits,
  what = 'the bundle',
): void {
  // UTF-16 length bounds UTF-8 bytes from below, so nothing is encoded when well under the limit
  const chars = files.reduce((n, f) => n + f.content.length, 0);
  if (chars <= limits.maxBundleBytes / 3) return;
  const bytes = files.reduce((n, f) => n + Buffer.byteLength(f.content), 0);
  if (bytes > limits.maxBundleBytes) {
    throw new OutpostError(
      'bundle_invalid',
      `${what} is ${bytes} bytes; the hub's limit is ${limits.maxBundleBytes} (hub --max-bundle-bytes)`,
      { file: files[0]?.path },
    );
  }
}

/** Refuses a parsed bundle with more objects than the hub's limit, saying by how much. */
export function checkLimits(parsed: ParsedBundle, limits: BundleLimits): void {
  const name = parsed.definition.name;
  if (parsed.objects.length > limits.maxBundleObjects) {
    throw new OutpostError(
      'bundle_invalid',
      `bundle ${name} has ${parsed.objects.length} objects; the hub's limit is ${limits.maxBundleObjects} (hub --max-bundle-objects)`,
      {
        file: parsed.objects[limits.maxBundleObjects]?.file,
        line: parsed.objects[limits.maxBundleObjects]?.line,
      },
    );
  }
}

function withoutOrigin(o: Overlay): Overlay {
  const { origin: _origin, ...rest } = o;
  return rest;
}

/** The fleet part of a definition as stored; empty parts are left out so plain bundles stay '{}'. */
export function storedFleet(parsed: ParsedBundle): StoredFleet {
  const f = parsed.definition.fleet;
  const out: StoredFleet = {};
  if (Object.keys(f.placement).length > 0) out.placement = f.placement;
  if (f.customization.values || f.customization.overlays) out.customization = f.customization;
  if (f.dependsOn.length > 0) out.dependsOn = f.dependsOn;
  if (f.rollout !== undefined) out.rollout = f.rollout;
  if (f.telemetry) out.telemetry = f.telemetry;
  if (parsed.origins.some((o) => o.fields)) out.origins = parsed.origins;
  if (parsed.chart) out.helm = parsed.chart;
  return out;
}

/** Content identity of a definition: where things are written (origins) does not count. */
export function specDigestOf(parsed: ParsedBundle): string {
  const { origins: _origins, ...fleet } = storedFleet(parsed);
  if (fleet.customization?.overlays) {
    fleet.customization = {
      ...fleet.customization,
      overlays: fleet.customization.overlays.map(withoutOrigin),
    };
  }
  const manifests: KubeObject[] = parsed.objects.map((o) => o.object);
  return digestOf({
    namespace: parsed.definition.namespace ?? null,
    selector: parsed.definition.selector,
    options: parsed.definition.options,
    manifests,
    ...(Object.keys(fleet).length > 0 ? { fleet } : {}),
  });
}

/** The agent bundle's release must be on this hub as signed (the parser has checked its shape). */
async function checkAgentRelease(tx: Kysely<Database>, parsed: ParsedBundle): Promise<void> {
  const [object] = parsed.objects;
  const release = object ? parseAgentRelease(object.object) : undefined;
  if (!object || !release || 'problem' in release) return;
  const problem = await checkReleaseStored(tx, release);
  if (problem) throw new OutpostError('bundle_invalid', problem, { file: object.file, line: object.line });
}

export interface RevisionOrigin {
  source: string | null;
  commit: string | null;
}

/**
 * Stores a new revision when the content changed (inside the caller's transaction) and points the
 * bundle at it. Returns the revision the bundle is at and whether it is new.
 */
export async function storeRevision(
  tx: Kysely<Database>,
  now: Date,
  parsed: ParsedBundle,
  origin: RevisionOrigin,
): Promise<{ revision: number; changed: boolean; previous: number | null }> {
  const name = parsed.definition.name;
  const specDigest = specDigestOf(parsed);
  // two applies of one bundle at once (two replicas, or an operator and a retry) would both number the
  // next revision alike on PostgreSQL, and the second insert would fail: they take turns per bundle
  await storeSql(engineOf(tx as never)).lockTransaction(tx as never, `bundle/${name}`);
  const current = await tx.selectFrom('bundles').selectAll().where('name', '=', name).executeTakeFirst();
  const previous = current ? Number(current.revision) : null;
  if (current?.spec_digest === specDigest) {
    if (current.source !== origin.source) {
      await tx.updateTable('bundles').set({ source: origin.source }).where('name', '=', name).execute();
    }
    return { revision: Number(current.revision), changed: false, previous };
  }
  if (name === agentBundleName) await checkAgentRelease(tx, parsed);
  // after a delete the bundle row is gone but its revisions stay: numbering carries on from them
  const last = await tx
    .selectFrom('bundle_revisions')
    .select((eb) => eb.fn.max('revision').as('n'))
    .where('bundle', '=', name)
    .executeTakeFirst();
  const revision = Number(last?.n ?? 0) + 1;
  const manifests = parsed.objects.map((o) => o.object);
  const row: BundleTable = {
    name,
    revision,
    namespace: parsed.definition.namespace ?? null,
    selector: JSON.stringify(parsed.definition.selector),
    spec_digest: specDigest,
    object_count: manifests.length,
    updated_at: now.toISOString(),
    source: origin.source,
  };
  await tx
    .insertInto('bundle_revisions')
    .values({
      bundle: name,
      revision,
      namespace: row.namespace,
      selector: row.selector,
      objects: JSON.stringify(manifests),
      options: JSON.stringify(parsed.definition.options),
      spec_digest: specDigest,
      created_at: row.updated_at,
      fleet: JSON.stringify(storedFleet(parsed)),
      source: origin.source,
      source_commit: origin.commit,
    })
    .execute();
  if (current) await tx.updateTable('bundles').set(row).where('name', '=', name).execute();
  else await tx.insertInto('bundles').values(row).execute();
  return { revision, changed: true, previous };
}
