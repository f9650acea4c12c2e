// Bundle revisions in the store: one immutable row per content change, whoever made it (`bundle apply`
// or a git sync, which records its commit on the revision). Unchanged content is not a new revision.

import type { Kysely } from 'kysely';
import { OutpostError } from '../../model/errors.ts';
import type { KubeObject } from '../../model/manifest.ts';
import type { ParsedBundle } from '../../render/bundle-files.ts';
import type { ObjectOrigin } from '../../render/customize.ts';
import { digestOf } from '../../render/digest.ts';
import type { FleetSpec } from '../../render/fleet-spec.ts';
import type { StoredHelm } from '../../render/generator-spec.ts';
import type { Overlay } from '../../render/overlays.ts';
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

/** Refuses a bundle over the hub's limits, saying which limit and by how much; never truncates. */
export function checkLimits(
  parsed: ParsedBundle,
  files: ReadonlyArray<{ path: string; content: string }>,
  limits: BundleLimits,
): void {
  const name = parsed.definition.name;
  const bytes = files.reduce((n, f) => n + Buffer.byteLength(f.content), 0);
  if (bytes > limits.maxBundleBytes) {
    throw new OutpostError(
      'bundle_invalid',
      `bundle ${name} is ${bytes} bytes; the hub's limit is ${limits.maxBundleBytes} (hub --max-bundle-bytes)`,
      { file: files[0]?.path },
    );
  }
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
  const current = await tx.selectFrom('bundles').selectAll().where('name', '=', name).executeTakeFirst();
  const previous = current ? Number(current.revision) : null;
  if (current?.spec_digest === specDigest) {
    if (current.source !== origin.source) {
      await tx.updateTable('bundles').set({ source: origin.source }).where('name', '=', name).execute();
    }
    return { revision: Number(current.revision), changed: false, previous };
  }
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
