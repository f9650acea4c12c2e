// Reads a tree of fleet definitions (a git commit, or a directory handed to `outpost plan`): each
// folder holding a Bundle document is one bundle, and the YAML files under it (down to the next
// folder with its own Bundle) are its manifests; SLO and RolloutStrategy documents may sit anywhere.
// Every error in the tree is collected, so a rejected commit lists all of them with file and line.

import { dependencyProblems } from '../../model/bundle-dependencies.ts';
import { OutpostError } from '../../model/errors.ts';
import {
  isBundleDoc,
  type ParsedBundle,
  parseBundleFiles,
  parseYamlFile,
  type YamlDocument,
} from '../../render/bundle-files.ts';
import { type FleetDocument, isFleetDocument, parseFleetDocument } from '../../render/fleet-documents.ts';
import { type BundleLimits, checkBundleBytes, checkLimits } from './revisions.ts';

export interface DefinitionFile {
  path: string;
  content: string;
}

export interface FleetDefinition {
  parsed: ParsedBundle;
  /** the bundle's folder ('' for the root) */
  dir: string;
  files: DefinitionFile[];
}

export interface FleetRead {
  definitions: FleetDefinition[];
  /** SLOs and named rollout strategies written in the tree */
  documents: FleetDocument[];
  errors: OutpostError[];
}

export interface FleetContext {
  /** bundles that exist outside the tree (for dependsOn when the tree is not the whole fleet) */
  knownBundles?: ReadonlySet<string>;
  /** named rollout strategies stored at the hub (not from this tree) that its bundles may name */
  strategies?: ReadonlySet<string>;
}

function dirOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

function isUnder(dir: string, parent: string): boolean {
  return parent === '' || dir === parent || dir.startsWith(`${parent}/`);
}

function asError(e: unknown, file?: string): OutpostError {
  if (e instanceof OutpostError) return e;
  return new OutpostError('bundle_invalid', (e as Error).message, file ? { file } : {});
}

/** Groups, parses and checks every bundle and fleet document in a tree. */
export function readFleet(
  files: readonly DefinitionFile[],
  limits: BundleLimits,
  context: FleetContext = {},
): FleetRead {
  const errors: OutpostError[] = [];
  const bundleDirs = new Set<string>();
  const documents: FleetDocument[] = [];
  for (const file of files) {
    let docs: YamlDocument[];
    try {
      checkBundleBytes([file], limits, `file ${file.path}`);
      docs = parseYamlFile(file);
    } catch (e) {
      errors.push(asError(e, file.path));
      continue;
    }
    for (const doc of docs) {
      if (isBundleDoc(doc.value)) bundleDirs.add(dirOf(file.path));
      else if (isFleetDocument(doc.value)) {
        try {
          documents.push(parseFleetDocument(doc.value as Record<string, unknown>, doc));
        } catch (e) {
          errors.push(asError(e, file.path));
        }
      }
    }
  }
  errors.push(...duplicateDocuments(documents));
  const strategies = new Set([
    ...(context.strategies ?? []),
    ...documents.filter((d) => d.kind === 'RolloutStrategy').map((d) => d.name),
  ]);
  // each file belongs to the deepest bundle folder above it; files under none are not fleet definitions
  const dirs = [...bundleDirs].sort((a, b) => b.length - a.length);
  const grouped = new Map<string, DefinitionFile[]>();
  for (const file of files) {
    const owner = dirs.find((d) => isUnder(dirOf(file.path), d));
    if (owner === undefined) continue;
    grouped.set(owner, [...(grouped.get(owner) ?? []), file]);
  }
  const definitions: FleetDefinition[] = [];
  const byName = new Map<string, FleetDefinition>();
  for (const [dir, group] of [...grouped].sort(([a], [b]) => (a < b ? -1 : 1))) {
    try {
      checkBundleBytes(group, limits, `the bundle in ${dir || '/'}`);
      const parsed = parseBundleFiles(group, { strategies, skipFleetDocuments: true });
      checkLimits(parsed, limits);
      const name = parsed.definition.name;
      const earlier = byName.get(name);
      if (earlier) {
        throw new OutpostError('bundle_invalid', `bundle ${name} is also defined in ${earlier.dir || '/'}`, {
          file: parsed.objects[0]?.file ?? group[0]!.path,
        });
      }
      const def = { parsed, dir, files: group };
      byName.set(name, def);
      definitions.push(def);
    } catch (e) {
      errors.push(asError(e, group[0]?.path));
    }
  }
  errors.push(...dependencyErrors(definitions, context.knownBundles ?? new Set()));
  // a file that is not valid YAML is found both when looking for Bundle documents and when parsing
  const seen = new Set<string>();
  const unique = errors.filter((e) => {
    const key = JSON.stringify([e.code, e.message, e.location.file, e.location.line]);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return { definitions, documents, errors: unique };
}

/** One SLO and one strategy per name in a tree. */
function duplicateDocuments(documents: readonly FleetDocument[]): OutpostError[] {
  const seen = new Map<string, FleetDocument>();
  const errors: OutpostError[] = [];
  for (const d of documents) {
    const key = `${d.kind}/${d.name}`;
    const first = seen.get(key);
    if (first) {
      errors.push(
        new OutpostError('bundle_invalid', `${key} is also defined at ${first.file}:${first.line}`, {
          file: d.file,
          line: d.line,
        }),
      );
    } else seen.set(key, d);
  }
  return errors;
}

/** dependsOn must name bundles that exist, without cycles. */
function dependencyErrors(
  definitions: readonly FleetDefinition[],
  known: ReadonlySet<string>,
): OutpostError[] {
  const graph = new Map<string, readonly string[]>([...known].map((name) => [name, []]));
  const byName = new Map(definitions.map((d) => [d.parsed.definition.name, d]));
  for (const [name, d] of byName) graph.set(name, d.parsed.definition.fleet.dependsOn);
  const where = (name: string) => ({ file: byName.get(name)?.files[0]?.path });
  const { missing, cycle } = dependencyProblems(graph);
  const errors = missing.map(
    (m) =>
      new OutpostError(
        'bundle_invalid',
        `bundle ${m.bundle} depends on ${m.dependency}, which does not exist`,
        where(m.bundle),
      ),
  );
  if (cycle)
    errors.push(
      new OutpostError('bundle_invalid', `dependsOn forms a cycle: ${cycle.join(' → ')}`, where(cycle[0]!)),
    );
  return errors;
}
