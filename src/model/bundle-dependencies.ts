// The dependsOn graph between bundles: which dependencies are missing, whether they form a cycle, and
// an order that puts every bundle after the ones it depends on. Pure; the hub checks the fleet with it
// and the agent orders its work by it.

export type DependencyGraph = ReadonlyMap<string, readonly string[]>;

export interface DependencyProblems {
  /** each dependsOn entry naming a bundle the graph does not hold */
  missing: Array<{ bundle: string; dependency: string }>;
  /** a cycle as the path that closes it, e.g. [a, b, a]; the first one found */
  cycle?: string[];
}

/**
 * What is wrong with a graph of bundles and their dependsOn lists.
 * @example dependencyProblems(new Map([['a', ['b']], ['b', ['a']]])) // → { missing: [], cycle: ['a', 'b', 'a'] }
 */
export function dependencyProblems(graph: DependencyGraph): DependencyProblems {
  const missing: DependencyProblems['missing'] = [];
  for (const [bundle, deps] of graph)
    for (const dependency of deps) if (!graph.has(dependency)) missing.push({ bundle, dependency });
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, path: string[]): string[] | undefined => {
    if (state.get(name) === 'done') return undefined;
    if (state.get(name) === 'visiting') return [...path.slice(path.indexOf(name)), name];
    state.set(name, 'visiting');
    for (const dep of graph.get(name) ?? []) {
      const cycle = visit(dep, [...path, name]);
      if (cycle) return cycle;
    }
    state.set(name, 'done');
    return undefined;
  };
  for (const name of graph.keys()) {
    const cycle = visit(name, []);
    if (cycle) return { missing, cycle };
  }
  return { missing };
}

/**
 * `names` with each after the ones it depends on (among `names`), otherwise in the order given. A cycle,
 * which the hub refuses, cannot hang it: what closes a cycle keeps its place.
 */
export function dependencyOrder(
  names: readonly string[],
  dependsOn: (name: string) => readonly string[],
): string[] {
  const present = new Set(names);
  const out: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string) => {
    if (state.has(name)) return;
    state.set(name, 'visiting');
    for (const dep of dependsOn(name)) if (present.has(dep)) visit(dep);
    state.set(name, 'done');
    out.push(name);
  };
  for (const name of names) visit(name);
  return out;
}
