// Grammar-aware inputs for the fuzz targets: mostly-valid documents and expressions built from each
// format's own vocabulary (so inputs get past the first check and reach deep code), with mutations
// and wrong-typed parts mixed in, plus text-level mutation for anything that has a text form.

import fc from 'fast-check';
import { stringify as toYaml } from 'yaml';

// ---- text mutation -------------------------------------------------------------------------------

/** Fragments that mean something to YAML, JSON, base64, PEM or a template, for insertion. */
const fragments = [
  '\n',
  '\n---\n',
  '- ',
  ': ',
  '  ',
  '\t',
  '{',
  '}',
  '[',
  ']',
  ',',
  '"',
  "'",
  '&a ',
  '*a',
  '<<: ',
  '!!binary ',
  '!!str ',
  '? ',
  '|',
  '>-',
  '#',
  '%YAML 1.1\n',
  '~',
  'null',
  'true',
  'yes',
  '0o17',
  '1e400',
  '-0',
  '\u0000',
  '\u2028',
  '\uFEFF',
  '\uD800',
  '${',
  '$${',
  '${site.',
  '${values.',
  '}',
  '__proto__',
  'constructor',
  '=',
  '==',
  '-----BEGIN ',
  '-----END ',
  '\\',
  '\\u00',
];

type Mutation = { at: number; kind: number; n: number; fragment: string; char: string };

const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  at: fc.double({ min: 0, max: 1, noNaN: true }),
  kind: fc.integer({ min: 0, max: 6 }),
  n: fc.integer({ min: 1, max: 40 }),
  fragment: fc.constantFrom(...fragments),
  char: fc.string({ minLength: 1, maxLength: 1, unit: 'binary' }),
});

function applyMutation(text: string, m: Mutation): string {
  const i = Math.floor(m.at * text.length);
  switch (m.kind) {
    case 0:
      return text.slice(0, i) + m.fragment + text.slice(i);
    case 1:
      return text.slice(0, i) + text.slice(i + m.n);
    case 2:
      return text.slice(0, i) + text.slice(i, i + m.n).repeat(2) + text.slice(i + m.n);
    case 3:
      return text.slice(0, i) + m.char + text.slice(i + 1);
    case 4:
      return text.slice(0, i);
    case 5: {
      // swap two nearby pieces
      const j = Math.min(text.length, i + m.n);
      return text.slice(0, i) + text.slice(j, j + m.n) + text.slice(i, j) + text.slice(j + m.n);
    }
    default:
      return text.slice(0, i) + m.char + m.fragment + text.slice(i);
  }
}

/** The text with up to `max` mutations applied (none, sometimes: the valid text is an input too). */
export function mutated(text: fc.Arbitrary<string>, max = 4): fc.Arbitrary<string> {
  return fc
    .tuple(text, fc.array(mutationArb, { maxLength: max }))
    .map(([t, ms]) => ms.reduce(applyMutation, t));
}

/** Bytes with up to `max` byte-level mutations: flips, truncation, insertion, length-octet changes. */
export function mutatedBytes(bytes: fc.Arbitrary<Uint8Array>, max = 3): fc.Arbitrary<Uint8Array> {
  const byteMutation = fc.record({
    at: fc.double({ min: 0, max: 1, noNaN: true }),
    kind: fc.integer({ min: 0, max: 4 }),
    value: fc.integer({ min: 0, max: 255 }),
    n: fc.integer({ min: 1, max: 16 }),
  });
  return fc.tuple(bytes, fc.array(byteMutation, { maxLength: max })).map(([b, ms]) => {
    let out = Buffer.from(b);
    for (const m of ms) {
      const i = Math.min(out.length - 1, Math.floor(m.at * out.length));
      if (i < 0) break;
      if (m.kind === 0) out[i] = m.value;
      else if (m.kind === 1) out[i] = out[i]! ^ (1 << (m.value % 8));
      else if (m.kind === 2) out = out.subarray(0, i);
      else if (m.kind === 3)
        out = Buffer.concat([out.subarray(0, i), Buffer.alloc(m.n, m.value), out.subarray(i)]);
      else out = Buffer.concat([out.subarray(0, i), out.subarray(i + m.n)]);
    }
    return new Uint8Array(out);
  });
}

// ---- JSON values ---------------------------------------------------------------------------------

export const trickyKey = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('a', 'b', 'name', 'data', 'spec', 'metadata', 'items', '0', '') },
  {
    weight: 1,
    arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
);

const scalar = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -0, 1e308, -1e-308, Number.MAX_SAFE_INTEGER + 2, 2 ** 63),
  fc.string({ maxLength: 12 }),
  fc.constantFrom('', '1', 'true', 'null', '${values.a}', 'sha256:00'),
);

/** Any JSON value, keys included that reach an object's prototype. */
export const jsonish: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(trickyKey, tie('value'), { maxKeys: 4 }),
  ),
})).value;

/**
 * A value of the expected shape most of the time, of any shape sometimes: `junk` is the share of junk
 * in twentieths (1 is 5 %, 3 about 13 %).
 */
export function orJunk<T>(good: fc.Arbitrary<T>, junk = 3): fc.Arbitrary<T | unknown> {
  return fc.oneof({ weight: 20, arbitrary: good }, { weight: junk, arbitrary: jsonish });
}

/** A record with some of its fields left out and, now and then, a misspelt one added. */
export function partialRecord(
  fields: Record<string, fc.Arbitrary<unknown>>,
): fc.Arbitrary<Record<string, unknown>> {
  return fc
    .tuple(
      fc.record(fields, { requiredKeys: [] }),
      fc.option(fc.tuple(fc.constantFrom(...Object.keys(fields).map((k) => `${k}s`), 'extra'), jsonish), {
        freq: 8,
      }),
    )
    .map(([r, extra]) => (extra ? { ...r, [extra[0]]: extra[1] } : r));
}

// ---- labels and selectors ------------------------------------------------------------------------

const dnsPart = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,8}[a-z0-9])?$/);
const labelName = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom('region', 'format', 'tier', 'zone', 'app') },
  { weight: 3, arbitrary: fc.stringMatching(/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,10}[A-Za-z0-9])?$/) },
  { weight: 1, arbitrary: fc.constantFrom('a'.repeat(63), 'a'.repeat(64), '-bad', 'bad-', 'b@d', '') },
);
export const labelKey = fc.oneof(
  { weight: 4, arbitrary: labelName },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.array(dnsPart, { minLength: 1, maxLength: 3 }), labelName)
      .map(([parts, name]) => `${parts.join('.')}/${name}`),
  },
  { weight: 1, arbitrary: fc.constantFrom('a/b/c', '/x', 'x/', 'UPPER.example/x', `${'a'.repeat(254)}/x`) },
);
export const labelValue = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom('west', 'east', 'mini', 'max', 'gold', '', '1') },
  { weight: 2, arbitrary: fc.stringMatching(/^([A-Za-z0-9]([-A-Za-z0-9_.]{0,10}[A-Za-z0-9])?)?$/) },
  { weight: 1, arbitrary: fc.constantFrom('a'.repeat(64), ' x', 'x ', 'ü') },
);
export const labels = fc.dictionary(labelKey, labelValue, { maxKeys: 5 });

const operator = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('In', 'NotIn', 'Exists', 'DoesNotExist') },
  { weight: 1, arbitrary: fc.constantFrom('in', 'Equals', '', 'exists') },
);
const requirement = partialRecord({
  key: orJunk(labelKey),
  operator: orJunk(operator),
  values: orJunk(fc.array(orJunk(labelValue, 1), { maxLength: 3 })),
});

/** A label selector as someone might write one in YAML: usually right, sometimes any shape. */
export const selectorAsWritten: fc.Arbitrary<unknown> = orJunk(
  partialRecord({
    matchLabels: orJunk(fc.dictionary(labelKey, orJunk(labelValue, 1), { maxKeys: 3 })),
    matchExpressions: orJunk(fc.array(orJunk(requirement, 1), { maxLength: 3 })),
  }),
  1,
);

// ---- sites ---------------------------------------------------------------------------------------

const propertyValue: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.oneof(fc.integer({ min: -5, max: 10 }), fc.constantFrom('Europe/Berlin', 'x', '')),
  },
  {
    weight: 2,
    arbitrary: fc.array(fc.oneof(fc.integer({ min: 0, max: 5 }), fc.constantFrom('pos', 'a')), {
      maxLength: 6,
    }),
  },
  { weight: 1, arbitrary: jsonish },
);

/** A site's inputs to placement and rendering. */
export const site = fc.record({
  name: fc.oneof(fc.constantFrom('store-1', 'store-2', 'lab-1'), fc.stringMatching(/^[a-z0-9-]{1,12}$/)),
  labels,
  properties: fc.dictionary(
    fc.oneof(fc.constantFrom('storeId', 'lanes', 'timezone', 'tags', 'pin', 'lat'), trickyKey),
    propertyValue,
    { maxKeys: 5 },
  ),
});

// ---- CEL -----------------------------------------------------------------------------------------

const celIdent = fc.constantFrom('labels', 'properties', 'name');
const celField = fc.constantFrom(
  'region',
  'format',
  'lanes',
  'storeId',
  'tags',
  'timezone',
  'x',
  '__proto__',
);
const celLiteral = fc.oneof(
  fc.integer({ min: -3, max: 100 }).map(String),
  fc.constantFrom(
    'true',
    'false',
    'null',
    '1.5',
    '-0.0',
    '1u',
    '9223372036854775807',
    '0x7f',
    "b'ab'",
    '1e308',
  ),
  fc.constantFrom("'west'", "'pos'", "''", "'a%sb'", '"x"', "r'\\d+'", "'''multi'''"),
);
const celMethod = fc.constantFrom(
  "startsWith('st')",
  "endsWith('1')",
  "contains('e')",
  "matches('^[a-z]+-[0-9]+$')",
  'size()',
  'lowerAscii()',
  'upperAscii()',
  'trim()',
  "split('-')",
  "replace('e', 'ee')",
  'substring(1)',
  "indexOf('e')",
  'charAt(0)',
  "join(',')",
  'format([1])',
);
const celBinary = fc.constantFrom(
  '==',
  '!=',
  '<',
  '<=',
  '>',
  '>=',
  '&&',
  '||',
  '+',
  '-',
  '*',
  '/',
  '%',
  'in',
);
const celMacro = fc.constantFrom('exists', 'all', 'exists_one', 'map', 'filter');

/** CEL over a site, from a small grammar of its literals, variables, operators, functions and macros. */
export const celExpression: fc.Arbitrary<string> = fc.letrec((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    celLiteral,
    fc.tuple(celIdent, celField).map(([v, f]) => `${v}.${f}`),
    fc.tuple(celIdent, celField).map(([v, f]) => `${v}['${f}']`),
    celField.map((f) => `has(properties.${f})`),
    fc.tuple(tie('expr'), celMethod).map(([e, m]) => `(${e}).${m}`),
    fc.tuple(tie('expr'), celBinary, tie('expr')).map(([a, op, b]) => `(${a}) ${op} (${b})`),
    tie('expr').map((e) => `!(${e})`),
    fc.tuple(tie('expr'), tie('expr'), tie('expr')).map(([c, a, b]) => `(${c}) ? (${a}) : (${b})`),
    fc.array(tie('expr'), { maxLength: 3 }).map((items) => `[${items.join(', ')}]`),
    fc.tuple(celField, tie('expr')).map(([k, v]) => `{'${k}': ${v}}`),
    fc
      .tuple(fc.oneof(celIdent, tie('expr')), celMacro, fc.constantFrom('x', 'y'), tie('expr'))
      .map(([range, macro, v, body]) => `(${range}).${macro}(${v}, ${body})`),
    fc.constantFrom(
      'x',
      'y',
      'size(labels)',
      'int(properties.lanes)',
      "string(name) + '-'",
      "timestamp('2024-01-01T00:00:00Z')",
      "duration('1h')",
      'dyn(1)',
      'type(name)',
    ),
  ),
})).expr;

// ---- where ---------------------------------------------------------------------------------------

const whereField = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      'label:region',
      'label:format',
      'property:lanes',
      'property:storeId',
      'property:tags',
    ),
  },
  {
    weight: 3,
    arbitrary: fc.constantFrom('connectivity', 'state', 'revision', 'bundle', 'lifecycle', 'name'),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'label:',
      'property:a b',
      'label:x"y',
      'prop:x',
      'label:a/b.c-d_e',
      `property:${'k'.repeat(254)}`,
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 10 }) },
);
const whereOp = fc.oneof(
  {
    weight: 9,
    arbitrary: fc.constantFrom('=', '!=', '<', '<=', '>', '>=', 'in', 'notIn', 'exists', 'notExists'),
  },
  { weight: 1, arbitrary: fc.constantFrom('==', 'IN', '', 'like') },
);
const whereValue = fc.oneof(
  fc.constantFrom('west', 'Online', 'Ready', 'Active', 'pos', 'store-1', ''),
  fc.integer({ min: -2, max: 10 }),
  fc.boolean(),
  fc.double(),
);

/** `where` expressions in their JSON form: nested all/any/not over field comparisons, with junk mixed in. */
export const whereExpression: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    tie('leaf'),
    fc.array(tie('node'), { maxLength: 3 }).map((all) => ({ all })),
    fc.array(tie('node'), { maxLength: 3 }).map((any) => ({ any })),
    tie('node').map((not) => ({ not })),
  ),
  leaf: orJunk(
    partialRecord({
      field: orJunk(whereField, 1),
      op: whereOp,
      value: orJunk(whereValue, 1),
      values: orJunk(fc.array(whereValue, { maxLength: 4 }), 1),
    }),
    1,
  ),
})).node;

// ---- placeholders and manifests -----------------------------------------------------------------

const placeholder = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      '${site.name}',
      '${site.labels.region}',
      '${site.properties.storeId}',
      '${site.properties.tags}',
      '${values.replicas}',
      '${values.image}',
      '${site.labels["example.com/tier"]}',
      "${site.properties['pin']}",
    ),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '$${literal}',
      '${HOME}',
      '${ site.name }',
      '${site.name',
      '${site}',
      '${site.labels}',
      '${site.nope}',
      '${values}',
      '${values.a.b.c}',
      '${site.labels["a\\"b"]}',
      '${site.labels["\\x"]}',
      '${site.properties.__proto__}',
      '${values.constructor}',
    ),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom('site.labels.', 'site.properties.', 'values.'), fc.string({ maxLength: 6 }))
      .map(([p, k]) => `\${${p}${k}}`),
  },
);

/** A string that may hold placeholders, well formed or not, among literal text. */
export const templateString: fc.Arbitrary<string> = fc
  .array(
    fc.oneof({ weight: 2, arbitrary: fc.string({ maxLength: 6 }) }, { weight: 1, arbitrary: placeholder }),
    {
      maxLength: 4,
    },
  )
  .map((parts) => parts.join(''));

/** A manifest value: JSON with template strings in places. */
const manifestValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    templateString,
    scalar,
    fc.array(tie('v'), { maxLength: 3 }),
    fc.dictionary(fc.oneof(trickyKey, placeholder), tie('v'), { maxKeys: 3 }),
  ),
})).v;

const manifestName = fc.oneof(fc.constantFrom('pos', 'till', 'db', 'cfg'), templateString);
const namespace = fc.option(fc.oneof(fc.constantFrom('pos', 'default'), templateString), { nil: undefined });

/** Kubernetes manifests of a few common kinds (and any other), fields from their real vocabulary. */
export const manifest: fc.Arbitrary<unknown> = orJunk(
  fc.oneof(
    fc
      .record({
        name: manifestName,
        namespace,
        data: fc.dictionary(trickyKey, manifestValue, { maxKeys: 3 }),
      })
      .map(({ name, namespace, data }) => ({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name, ...(namespace !== undefined ? { namespace } : {}) },
        data,
      })),
    fc
      .record({ name: manifestName, data: fc.dictionary(trickyKey, templateString, { maxKeys: 2 }) })
      .map(({ name, data }) => ({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name, namespace: 'pos' },
        stringData: data,
      })),
    fc
      .record({
        name: manifestName,
        replicas: orJunk(fc.oneof(fc.integer({ min: 0, max: 5 }), fc.constant('${values.replicas}'))),
        image: fc.oneof(
          fc.constantFrom('registry.example.com/pos/till:1.4.3', 'till', 'r:5000/a/b@sha256:abc'),
          templateString,
        ),
      })
      .map(({ name, replicas, image }) => ({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name, namespace: 'pos', labels: { app: 'till' } },
        spec: { replicas, template: { spec: { containers: [{ name: 'till', image }] } } },
      })),
    fc
      .record({
        apiVersion: fc.constantFrom('v1', 'example.com/v1', 'apps/v1', ''),
        kind: fc.constantFrom('Namespace', 'Widget', 'List', 'WidgetList', ''),
        metadata: manifestValue,
        rest: manifestValue,
      })
      .map(({ apiVersion, kind, metadata, rest }) => ({ apiVersion, kind, metadata, items: rest })),
  ),
  1,
);

// ---- bundles -------------------------------------------------------------------------------------

const jsonPointer = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      '/data/a',
      '/metadata/labels/tier',
      '/spec/replicas',
      '/spec/template/spec/containers/0/image',
      '/stringData/a',
      '/data',
    ),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '',
      '/',
      '/-',
      '/data/-',
      '/spec/template/spec/containers/-',
      '/a~1b',
      '/a~0b',
      '/~2',
      '/data/__proto__',
      '/constructor/x',
      'data/a',
      '/spec/template/spec/containers/01',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }).map((s) => `/${s}`) },
);
const jsonPatchOp = partialRecord({
  op: fc.constantFrom('add', 'remove', 'replace', 'move', 'copy', 'test', 'nope'),
  path: orJunk(jsonPointer, 1),
  from: orJunk(jsonPointer, 1),
  value: manifestValue,
});
const target = partialRecord({
  kind: fc.constantFrom('ConfigMap', 'Secret', 'Deployment', 'Nope'),
  name: fc.constantFrom('pos', 'till', 'db', 'cfg'),
  namespace: fc.constantFrom('pos', 'default'),
  apiVersion: fc.constantFrom('v1', 'apps/v1'),
});
const imageOverride = partialRecord({
  name: fc.constantFrom('registry.example.com/pos/till', 'till', 'r:5000/a/b', ''),
  newName: fc.constantFrom('mirror.example.com/till', '${values.image}', ''),
  newTag: fc.constantFrom('1.5.0', '${site.labels.region}', ''),
  digest: fc.constantFrom('sha256:0123', ''),
});
const valuesMap = fc.dictionary(fc.constantFrom('replicas', 'image', 'a', '__proto__'), manifestValue, {
  maxKeys: 3,
});
const overlay = orJunk(
  partialRecord({
    selector: selectorAsWritten,
    sites: orJunk(fc.array(fc.constantFrom('store-1', 'lab-1'), { maxLength: 2 })),
    target: orJunk(target, 1),
    images: orJunk(fc.array(orJunk(imageOverride, 1), { maxLength: 2 })),
    jsonPatch: orJunk(fc.array(orJunk(jsonPatchOp, 1), { maxLength: 3 })),
    mergePatch: orJunk(
      fc.dictionary(fc.oneof(trickyKey, fc.constantFrom('metadata', 'data', 'spec')), manifestValue, {
        maxKeys: 3,
      }),
    ),
    values: orJunk(valuesMap, 1),
  }),
  1,
);
const portion = orJunk(fc.constantFrom(1, 2, 0, '10%', '25%', '0%', '150%', 'x%', -1));
const wave = partialRecord({
  name: fc.constantFrom('canary', 'rest', ''),
  selector: selectorAsWritten,
  sites: orJunk(fc.array(fc.constantFrom('store-1', 'lab-1'), { maxLength: 2 })),
  count: orJunk(fc.integer({ min: 0, max: 3 })),
  percent: orJunk(fc.constantFrom(10, 50, 100, 0, 150)),
  groupBy: orJunk(labelKey),
});
const gate = partialRecord({
  metric: fc.constantFrom('error_rate', 'latency_p99', 'x'),
  op: fc.constantFrom('<', '<=', '>', '>=', '=<'),
  threshold: orJunk(fc.constantFrom(0.05, 1, '5%')),
  aggregate: fc.constantFrom('worst', 'avg', 'p99', 'p100'),
});
const maintenanceWindow = partialRecord({
  days: orJunk(fc.array(fc.constantFrom('mon', 'sat', 'Sunday', 'x'), { maxLength: 2 })),
  start: fc.constantFrom('22:00', '00:00', '25:00', '7'),
  end: fc.constantFrom('06:00', '24:00', '22:00'),
});
const rollout = fc.oneof(
  fc.constantFrom('canary', 'by-region', 'manual', 'emergency', 'nope', 'Bad Name'),
  partialRecord({
    waves: orJunk(fc.array(orJunk(wave, 1), { maxLength: 3 })),
    maxConcurrent: portion,
    maxFailures: portion,
    bakeSeconds: orJunk(fc.integer({ min: -1, max: 100 })),
    progressDeadlineSeconds: orJunk(fc.integer({ min: -1, max: 900 })),
    onFailure: orJunk(fc.constantFrom('pause', 'rollback', 'explode')),
    approval: orJunk(fc.constantFrom('auto', 'manual')),
    offline: orJunk(fc.constantFrom('skip', 'wait')),
    gates: orJunk(fc.array(orJunk(gate, 1), { maxLength: 2 })),
    noData: orJunk(
      partialRecord({ policy: fc.constantFrom('wait', 'pass', 'fail', 'x'), maxWaitSeconds: jsonish }),
    ),
    emergency: jsonish,
    windows: orJunk(fc.array(orJunk(maintenanceWindow, 1), { maxLength: 2 })),
  }),
);
const seriesSelector = partialRecord({
  metric: fc.constantFrom('http_requests_total', 'x', ''),
  match: jsonish,
});
const telemetry = partialRecord({
  intervalSeconds: orJunk(fc.integer({ min: 0, max: 4000 })),
  targets: orJunk(
    fc.array(fc.constantFrom('http://127.0.0.1:9100/metrics', 'ftp://x', 'not a url'), { maxLength: 2 }),
  ),
  annotatedPods: jsonish,
  slis: orJunk(
    partialRecord({
      requests: orJunk(seriesSelector),
      errors: orJunk(seriesSelector),
      latency: orJunk(
        partialRecord({
          histogram: fc.constantFrom('h_bucket', ''),
          match: jsonish,
          thresholdSeconds: jsonish,
        }),
      ),
      saturation: jsonish,
    }),
  ),
  forward: jsonish,
});

/** A Bundle document: the schema's fields with values from their own vocabulary, now and then junk. */
export const bundleDocument = fc
  .record({
    apiVersion: fc.oneof(
      { weight: 9, arbitrary: fc.constant('outpost.dev/v1') },
      { weight: 1, arbitrary: fc.constantFrom('outpost.dev/v2', '') },
    ),
    name: fc.oneof(
      { weight: 9, arbitrary: fc.constantFrom('pos', 'hello', 'vault') },
      { weight: 1, arbitrary: orJunk(fc.constantFrom('Pos', '-x', 'a'.repeat(64))) },
    ),
    spec: partialRecord({
      namespace: orJunk(fc.constantFrom('pos', 'default', 'Bad_NS')),
      placement: orJunk(
        partialRecord({
          selector: selectorAsWritten,
          cel: orJunk(celExpression, 1),
          include: orJunk(fc.array(fc.constantFrom('store-1', 'lab-1', 'Bad'), { maxLength: 2 })),
          exclude: orJunk(fc.array(fc.constantFrom('store-2'), { maxLength: 1 })),
        }),
        1,
      ),
      values: orJunk(valuesMap, 1),
      overlays: orJunk(fc.array(overlay, { maxLength: 3 }), 1),
      dependsOn: orJunk(fc.array(fc.constantFrom('crds', 'pos', 'Bad'), { maxLength: 2 })),
      rollout: orJunk(rollout, 1),
      telemetry: orJunk(telemetry, 1),
      apply: orJunk(
        partialRecord({
          force: jsonish,
          deletionPolicy: fc.constantFrom('Delete', 'Orphan', 'x'),
          readiness: fc.constantFrom('Optimistic', 'Wait', 'x'),
          progressDeadlineSeconds: orJunk(fc.integer({ min: -1, max: 900 })),
          rollback: jsonish,
          correctDrift: jsonish,
        }),
      ),
    }),
  })
  .map(({ apiVersion, name, spec }) => ({ apiVersion, kind: 'Bundle', metadata: { name }, spec }));

/** A bundle's documents: the Bundle first (usually) and a few manifests. */
export const bundleDocuments = fc
  .tuple(bundleDocument, fc.array(manifest, { minLength: 1, maxLength: 4 }), fc.boolean())
  .map(([bundle, manifests, bundleLast]) => (bundleLast ? [...manifests, bundle] : [bundle, ...manifests]));

/** Documents as one YAML (block or flow style) or JSON text, with `---` between them. */
export function asYamlText(docs: readonly unknown[], style: 'block' | 'flow' | 'json'): string {
  return docs
    .map((d) => {
      if (style === 'json') return JSON.stringify(d) ?? 'null';
      try {
        return toYaml(d, style === 'flow' ? { collectionStyle: 'flow' } : {});
      } catch {
        return JSON.stringify(d) ?? 'null';
      }
    })
    .join('\n---\n');
}

export const bundleText = fc
  .tuple(bundleDocuments, fc.constantFrom<'block' | 'flow' | 'json'>('block', 'flow', 'json'))
  .map(([docs, style]) => asYamlText(docs, style));
