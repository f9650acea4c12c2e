// One revision of a source read completely, as sync and plan need it: every file under the source's
// folder, the bundles and fleet documents defined there, and the manifests Helm and Kustomize make for
// the generated bundles — with every error found on the way, each naming its file and line.

import { OutpostError } from '../../model/errors.ts';
import type { FleetDocument } from '../../render/fleet-documents.ts';
import { type FleetContext, readFleet } from '../bundles/definitions.ts';
import type { HubContext } from '../context.ts';
import { type GeneratedFleet, generateFleet } from '../generators/fleet-generation.ts';
import type { TreeFile } from '../generators/tree.ts';
import { type FleetSource, yamlFiles } from './fleet-source.ts';

export interface SourceRevision extends GeneratedFleet {
  documents: FleetDocument[];
}

/**
 * Reads a source at a revision. `context.strategies` are the stored strategies (not this source's own)
 * that its bundles may name besides those it writes; `context.knownBundles` the bundles from elsewhere
 * that its bundles may depend on.
 */
export async function readSourceRevision(
  ctx: HubContext,
  source: FleetSource,
  revision: string,
  context: FleetContext,
): Promise<SourceRevision> {
  const errors: OutpostError[] = [];
  let tree: TreeFile[] = [];
  try {
    tree = await source.readTree(revision);
  } catch (e) {
    errors.push(e instanceof OutpostError ? e : new OutpostError('source_failed', (e as Error).message));
  }
  const read = readFleet(yamlFiles(tree), ctx.config.limits, context);
  const known = new Set([
    ...(context.strategies ?? []),
    ...read.documents.filter((d) => d.kind === 'RolloutStrategy').map((d) => d.name),
  ]);
  const generated = await generateFleet(ctx, { definitions: read.definitions, tree, strategies: known });
  return {
    ...generated,
    documents: read.documents,
    errors: [...errors, ...read.errors, ...generated.errors],
  };
}
