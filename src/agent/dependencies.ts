// dependsOn at the site: a bundle's new revision is applied only once every bundle it depends on is
// Ready here, and until then its deployment says what it waits for. Bundles are worked through in
// dependency order, so a dependency that turns Ready lets its dependents go in the same pass.

import { dependencyOrder } from '../model/bundle-dependencies.ts';
import type { ReportedState } from '../model/deployment.ts';

/**
 * What a bundle waits for before its new revision may be applied, or undefined when nothing.
 * @example waitingFor(['pos-crds'], () => 'NotReady', new Set(['pos-crds'])) // → 'waiting for pos-crds (NotReady)'
 */
export function waitingFor(
  dependsOn: readonly string[],
  stateOf: (bundle: string) => ReportedState | undefined,
  placed: ReadonlySet<string>,
): string | undefined {
  const pending = dependsOn
    .map((dep) => {
      if (!placed.has(dep)) return `${dep} (not placed on this site)`;
      const state = stateOf(dep);
      return state === 'Ready' ? undefined : `${dep} (${state ?? 'not applied yet'})`;
    })
    .filter((w) => w !== undefined);
  return pending.length > 0 ? `waiting for ${pending.join(', ')}` : undefined;
}

/** The desired deployments with each after the ones it depends on, as far as their manifests are known. */
export function inDependencyOrder<D extends { bundle: string }>(
  deployments: readonly D[],
  dependsOn: (bundle: string) => readonly string[],
): D[] {
  const byName = new Map(deployments.map((d) => [d.bundle, d]));
  return dependencyOrder(
    deployments.map((d) => d.bundle),
    dependsOn,
  ).map((name) => byName.get(name)!);
}
