// Keeps the fleet's dependsOn graph whole at the hub: a change that would leave a bundle depending on
// one that does not exist, or close a cycle, is refused with the names, whether it comes by bundle
// apply, by a git sync or by deleting a bundle others depend on.

import { dependencyProblems } from '../../model/bundle-dependencies.ts';
import { type ErrorLocation, OutpostError } from '../../model/errors.ts';
import type { Db } from '../store/schema.ts';
import type { StoredFleet } from './revisions.ts';

export interface StoredBundleDependencies {
  dependsOn: string[];
  /** the git source the bundle comes from, or null when applied by hand */
  source: string | null;
}

/** Every bundle with the dependsOn of its current revision. */
export async function storedDependencies(db: Db): Promise<Map<string, StoredBundleDependencies>> {
  const rows = await db
    .selectFrom('bundles')
    .innerJoin('bundle_revisions', (j) =>
      j
        .onRef('bundle_revisions.bundle', '=', 'bundles.name')
        .onRef('bundle_revisions.revision', '=', 'bundles.revision'),
    )
    .select(['bundles.name', 'bundles.source', 'bundle_revisions.fleet'])
    .execute();
  return new Map(
    rows.map((r) => [
      r.name,
      { dependsOn: (JSON.parse(r.fleet) as StoredFleet).dependsOn ?? [], source: r.source },
    ]),
  );
}

function graphOf(stored: ReadonlyMap<string, StoredBundleDependencies>): Map<string, readonly string[]> {
  return new Map([...stored].map(([name, d]) => [name, d.dependsOn]));
}

/** Why a bundle applied with `dependsOn` would break the graph (a missing dependency, a cycle), if it would. */
export function applyDependencyError(
  stored: ReadonlyMap<string, StoredBundleDependencies>,
  bundle: string,
  dependsOn: readonly string[],
  where: ErrorLocation,
): OutpostError | undefined {
  const graph = graphOf(stored);
  graph.set(bundle, dependsOn);
  const { missing, cycle } = dependencyProblems(graph);
  const gone = missing.find((m) => m.bundle === bundle);
  if (gone)
    return new OutpostError(
      'bundle_invalid',
      `spec.dependsOn: bundle ${bundle} depends on ${gone.dependency}, which does not exist; apply it first`,
      where,
    );
  if (cycle?.includes(bundle))
    return new OutpostError('bundle_invalid', `spec.dependsOn forms a cycle: ${cycle.join(' → ')}`, where);
  return undefined;
}

/**
 * What a git commit would break beyond its own tree (which readFleet checks, with the other sources'
 * bundles as known names): bundles from elsewhere that depend on one the commit removes, and cycles
 * through bundles from elsewhere.
 */
export function sourceDependencyErrors(
  stored: ReadonlyMap<string, StoredBundleDependencies>,
  source: string,
  tree: ReadonlyMap<string, { dependsOn: readonly string[]; file: string }>,
): OutpostError[] {
  const graph = new Map<string, readonly string[]>();
  for (const [name, d] of stored) if (d.source !== source) graph.set(name, d.dependsOn);
  for (const [name, d] of tree) graph.set(name, d.dependsOn);
  const removed = new Set(
    [...stored].filter(([n, d]) => d.source === source && !tree.has(n)).map(([n]) => n),
  );
  const errors: OutpostError[] = [];
  for (const [name, d] of stored) {
    if (d.source === source) continue;
    for (const dep of d.dependsOn.filter((x) => removed.has(x)))
      errors.push(
        new OutpostError(
          'bundle_invalid',
          `bundle ${dep} is removed by this commit, but bundle ${name} (${d.source ? `source ${d.source}` : 'applied by hand'}) depends on it`,
        ),
      );
  }
  const { cycle } = dependencyProblems(graph);
  const from = cycle?.find((b) => tree.has(b));
  if (cycle && from && cycle.some((b) => !tree.has(b))) {
    // told from the commit's side: starting at its bundle
    const ring = cycle.slice(0, -1);
    const at = ring.indexOf(from);
    const path = [...ring.slice(at), ...ring.slice(0, at), from];
    errors.push(
      new OutpostError('bundle_invalid', `spec.dependsOn forms a cycle: ${path.join(' → ')}`, {
        file: tree.get(from)!.file,
      }),
    );
  }
  return errors;
}

/** Refuses deleting a bundle that others still depend on, naming them. */
export async function assertNoDependents(db: Db, bundle: string): Promise<void> {
  const dependents = [...(await storedDependencies(db))]
    .filter(([name, d]) => name !== bundle && d.dependsOn.includes(bundle))
    .map(([name]) => name)
    .sort();
  if (dependents.length > 0)
    throw new OutpostError(
      'conflict',
      `bundle ${bundle} is a dependency of ${dependents.join(', ')}; remove it from their spec.dependsOn (or delete them) first`,
    );
}
