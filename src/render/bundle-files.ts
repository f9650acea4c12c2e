// Turns the files an operator hands over (multi-document YAML, parsed as YAML 1.1 like kubectl) into one
// bundle definition plus its manifests, or into an error that names the file and line to fix.

import { agentBundleProblem } from '../model/agent-release.ts';
import { type BundleApplyOptions, parseApplyOptions } from '../model/apply-options.ts';
import { OutpostError } from '../model/errors.ts';
import { describeRef, type KubeObject, refKey, refOf } from '../model/manifest.ts';
import { isSealedSecret, sealedSecretProblem } from '../model/sealed-secret.ts';
import { type LabelSelector, validateSelector } from '../select/labels.ts';
import type { ObjectOrigin } from './customize.ts';
import { fleetApiVersion, isFleetDocument } from './fleet-documents.ts';
import { checkCustomization, type FleetSpec, fleetSpecFields, parseFleetSpec } from './fleet-spec.ts';
import {
  type GeneratorSpec,
  generatorFields,
  parseGeneratorSpec,
  type StoredHelm,
} from './generator-spec.ts';
import { type YamlDocument as ParsedYamlDocument, readYamlDocuments } from './yaml-documents.ts';

export const bundleApiVersion = fleetApiVersion;

export interface BundleDefinition {
  name: string;
  /** namespace given to namespaced objects that name none */
  namespace?: string;
  selector: LabelSelector;
  /** placement beyond the selector, customization, dependsOn, rollout */
  fleet: FleetSpec;
  /** spec.apply with every default filled in */
  options: BundleApplyOptions;
  /** spec.helm or spec.kustomize: the bundle's manifests are what the tool renders */
  generator?: GeneratorSpec;
}

export interface SourcedObject {
  object: KubeObject;
  file: string;
  line: number;
}

export interface ParsedBundle {
  definition: BundleDefinition;
  objects: SourcedObject[];
  /** where each object was written, for per-site messages long after parsing */
  origins: ObjectOrigin[];
  /** a chart bundle once its chart is pinned (set by the hub's generation step; objects stay empty) */
  chart?: StoredHelm;
}

interface SourceFile {
  path: string;
  content: string;
}

export interface BundleParseOptions {
  /** rollout strategies beyond the built-in ones that spec.rollout may name */
  strategies?: ReadonlySet<string>;
  /** SLO and RolloutStrategy documents among the files are read by the source's sync, not the bundle */
  skipFleetDocuments?: boolean;
}

/** One YAML document and the file it came from. */
export interface YamlDocument extends ParsedYamlDocument {
  file: string;
}

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Parses a bundle from its files: exactly one document of kind Bundle, every other document a manifest.
 * @example parseBundleFiles([{ path: 'pos.yaml', content: 'apiVersion: outpost.dev/v1\nkind: Bundle\n…' }])
 */
export function parseBundleFiles(files: readonly SourceFile[], opts: BundleParseOptions = {}): ParsedBundle {
  const docs = files.flatMap(parseYamlFile).filter((d) => {
    if (!isFleetDocument(d.value)) return true;
    if (opts.skipFleetDocuments) return false;
    const kind = (d.value as { kind: string }).kind;
    throw new OutpostError(
      'bundle_invalid',
      `a ${kind} document is not part of a bundle: a source syncs it from the fleet repository, or the API makes it (${kind === 'SLO' ? 'outpost slo apply' : 'outpost rollout strategy apply'})`,
      { file: d.file, line: d.line },
    );
  });
  const bundleDocs = docs.filter((d) => isBundleDoc(d.value));
  if (bundleDocs.length === 0) {
    throw new OutpostError(
      'bundle_invalid',
      `no Bundle document (apiVersion: ${bundleApiVersion}, kind: Bundle) in ${files.map((f) => f.path).join(', ')}`,
      { file: files[0]?.path },
    );
  }
  const [first, second] = bundleDocs;
  if (second) {
    throw new OutpostError(
      'bundle_invalid',
      `a second Bundle document; one bundle per apply (first at ${first!.file}:${first!.line})`,
      {
        file: second.file,
        line: second.line,
      },
    );
  }
  const definition = parseDefinition(first!, opts.strategies);
  const { objects, lineOfs } = manifestsOf(docs.filter((d) => d !== first));
  const agentProblem = agentBundleProblem(
    definition.name,
    objects.map((o) => o.object),
  );
  if (agentProblem) {
    const at = objects[agentProblem.index] ?? first!;
    throw new OutpostError('bundle_invalid', agentProblem.problem, { file: at.file, line: at.line });
  }
  // a generated bundle's objects come from its tool; until they do, overlay targets cannot be checked
  const fields = checkCustomization(
    definition.fleet.customization,
    objects.map((o, i) => ({ ...o, lineOf: lineOfs[i] })),
    first!,
    { targets: !(definition.generator && objects.length === 0) },
  );
  const origins = objects.map((o, i) => {
    const origin: ObjectOrigin = { file: o.file, line: o.line };
    if (Object.keys(fields[i]!).length > 0) origin.fields = fields[i];
    return origin;
  });
  return { definition, objects, origins };
}

/** Manifests as parsed documents: each a valid object, no object twice. */
function manifestsOf(docs: readonly YamlDocument[]): {
  objects: SourcedObject[];
  lineOfs: Array<(path: readonly string[]) => number>;
} {
  const objects: SourcedObject[] = [];
  const lineOfs: Array<(path: readonly string[]) => number> = [];
  const seen = new Map<string, SourcedObject>();
  for (const doc of docs) {
    const object = parseObject(doc);
    const sourced = { object, file: doc.file, line: doc.line };
    lineOfs.push(doc.lineOf);
    const key = refKey(refOf(object));
    const earlier = seen.get(key);
    if (earlier) {
      throw new OutpostError(
        'manifest_invalid',
        `${describeRef(refOf(object))} appears twice (first at ${earlier.file}:${earlier.line})`,
        { file: doc.file, line: doc.line },
      );
    }
    seen.set(key, sourced);
    objects.push(sourced);
  }
  return { objects, lineOfs };
}

/**
 * Parses files of manifests alone (what a tool generated), each object with where it was written.
 * @example parseManifestFiles([{ path: 'fleet/kiosk/chart/templates/app.yaml', content: 'apiVersion: v1\nkind: ConfigMap\n…' }])
 */
export function parseManifestFiles(files: readonly SourceFile[]): {
  objects: KubeObject[];
  origins: ObjectOrigin[];
} {
  const { objects } = manifestsOf(files.flatMap(parseYamlFile));
  return {
    objects: objects.map((o) => o.object),
    origins: objects.map((o) => ({ file: o.file, line: o.line })),
  };
}

/** Every non-empty document of a YAML file (YAML 1.1), or an error naming the file and line. */
export function parseYamlFile(file: SourceFile): YamlDocument[] {
  return readYamlDocuments(file).map((doc) => ({ ...doc, file: file.path }));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function isBundleDoc(v: unknown): boolean {
  return isRecord(v) && v.kind === 'Bundle' && v.apiVersion === bundleApiVersion;
}

function parseDefinition(doc: YamlDocument, strategies: ReadonlySet<string> | undefined): BundleDefinition {
  const fail = (message: string): never => {
    throw new OutpostError('bundle_invalid', message, { file: doc.file, line: doc.line });
  };
  const v = doc.value as Record<string, unknown>;
  const metadata = isRecord(v.metadata) ? v.metadata : fail('the Bundle needs metadata.name');
  const name = metadata.name;
  if (typeof name !== 'string' || !dnsLabel.test(name) || name.length > 63) {
    fail('metadata.name of a Bundle is a DNS label: 1-63 lower-case letters, digits and dashes');
  }
  const spec = isRecord(v.spec) ? v.spec : fail('the Bundle needs a spec with placement.selector');
  const known = ['namespace', 'placement', 'apply', ...fleetSpecFields, ...generatorFields];
  for (const key of Object.keys(spec)) {
    if (!known.includes(key)) fail(`unknown field spec.${key} (known: ${known.join(', ')})`);
  }
  const applied = parseApplyOptions(spec.apply);
  if (applied.problem) {
    const { path, message } = applied.problem;
    const at = ['spec', 'apply', ...(path ? path.split('.') : [])];
    throw new OutpostError('bundle_invalid', `${at.join('.')} ${message}`, {
      file: doc.file,
      line: doc.lineOf(at),
    });
  }
  const definition: Omit<BundleDefinition, 'fleet'> = {
    name: name as string,
    selector: {},
    options: applied.options,
  };
  if (spec.namespace !== undefined) {
    if (typeof spec.namespace !== 'string' || !dnsLabel.test(spec.namespace)) {
      fail('spec.namespace is a DNS label');
    }
    definition.namespace = spec.namespace as string;
  }
  const placement = isRecord(spec.placement)
    ? spec.placement
    : fail('spec.placement.selector is required ({} places the bundle on every site)');
  if (!isRecord(placement.selector))
    fail('spec.placement.selector is required ({} places the bundle on every site)');
  const selector = placement.selector as LabelSelector;
  const problems = validateSelector(selector);
  if (problems.length > 0) {
    const p = problems[0]!;
    throw new OutpostError('selector_invalid', `spec.placement.selector.${p.path}: ${p.message}`, {
      file: doc.file,
      line: doc.line,
    });
  }
  definition.selector = selector;
  const generator = parseGeneratorSpec(spec, name as string, doc);
  return {
    ...definition,
    fleet: parseFleetSpec(spec, doc, strategies),
    ...(generator.helm || generator.kustomize ? { generator } : {}),
  };
}

function parseObject(doc: YamlDocument): KubeObject {
  const fail = (message: string): never => {
    throw new OutpostError('manifest_invalid', message, { file: doc.file, line: doc.line });
  };
  const v = isRecord(doc.value)
    ? doc.value
    : fail('a manifest is a mapping with apiVersion, kind and metadata');
  if (typeof v.apiVersion !== 'string' || v.apiVersion === '') fail('apiVersion is missing');
  if (typeof v.kind !== 'string' || v.kind === '') fail('kind is missing');
  // kubectl's List wrappers (kind List or FooList with items); a custom kind like AllowList is fine
  if (v.kind === 'List' || ((v.kind as string).endsWith('List') && Array.isArray(v.items))) {
    fail(`${v.kind} is not applied as one object; put each item in its own document`);
  }
  const metadata = isRecord(v.metadata) ? v.metadata : fail('metadata.name is missing');
  if (typeof metadata.name !== 'string' || metadata.name === '') fail('metadata.name is missing');
  if (metadata.generateName !== undefined)
    fail('metadata.generateName cannot be applied declaratively; set a name');
  if (metadata.namespace !== undefined && typeof metadata.namespace !== 'string')
    fail('metadata.namespace is a string');
  if (isSealedSecret(v)) {
    const problem = sealedSecretProblem(v as KubeObject);
    if (problem) {
      throw new OutpostError(
        'manifest_invalid',
        `SealedSecret ${problem.path.join('.')} ${problem.message}`,
        {
          file: doc.file,
          line: doc.lineOf(problem.path),
        },
      );
    }
  }
  return v as KubeObject;
}
