// Fuzz targets for the pure parsers: bundle YAML and the Bundle schema, placeholders, overlays and
// merge patch, label selectors, `where`, CEL, join tokens, CSRs and DER, and query cursors. Each
// input must give a value or the module's documented rejection, never a crash, within a second.

import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compileBundle, outcomeFor } from '../../src/hub/placement/plan.ts';
import {
  decodeCursor,
  encodeCursor,
  type Group,
  pageGroups,
  planQuery,
} from '../../src/hub/status/query-plan.ts';
import { decodeJoinToken, encodeJoinToken } from '../../src/model/join-token.ts';
import type { KubeObject } from '../../src/model/manifest.ts';
import { createCsr, verifyCsr } from '../../src/pki/csr.ts';
import * as der from '../../src/pki/der.ts';
import { PkiError } from '../../src/pki/errors.ts';
import { generateKeyPair } from '../../src/pki/keys.ts';
import { fromPem, toPem } from '../../src/pki/pem.ts';
import { parseBundleFiles } from '../../src/render/bundle-files.ts';
import { mergePatch } from '../../src/render/merge-patch.ts';
import {
  FieldError,
  findPlaceholders,
  PlaceholderError,
  parseTemplate,
  type Scope,
  substitute,
} from '../../src/render/placeholders.ts';
import { CelCompileError, compileCel } from '../../src/select/cel.ts';
import {
  explainSelector,
  formatSelector,
  type LabelSelector,
  matchesSelector,
  validateSelector,
} from '../../src/select/labels.ts';
import { evaluateWhere, validateWhere, type Where } from '../../src/select/where.ts';
import {
  asYamlText,
  bundleDocuments,
  bundleText,
  celExpression,
  jsonish,
  labels,
  mutated,
  mutatedBytes,
  selectorAsWritten,
  site,
  templateString,
  whereExpression,
} from './arbitraries.ts';
import { countRejection, type FuzzTarget, parsedOrRejected } from './harness.ts';

type FuzzSite = { name: string; labels: Record<string, string>; properties: Record<string, unknown> };

/** Asserts a value is what JSON can carry unchanged: a manifest goes to the site as JSON. */
function assertPlainJson(value: unknown, at: string): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    assert.ok(Number.isFinite(value), `${at}: ${value}`);
    return;
  }
  assert.ok(typeof value === 'object', `${at}: a ${typeof value}`);
  const proto = Object.getPrototypeOf(value);
  assert.ok(
    Array.isArray(value) || proto === Object.prototype || proto === null,
    `${at}: a ${value.constructor?.name}`,
  );
  for (const [k, v] of Object.entries(value)) assertPlainJson(v, `${at}.${k}`);
}

function parseBundle(content: string, path = 'fuzz/bundle.yaml') {
  const parsed = parsedOrRejected(() => parseBundleFiles([{ path, content }]));
  for (const [i, o] of (parsed?.objects ?? []).entries()) assertPlainJson(o.object, `object ${i}`);
  return parsed;
}

const bundleSchema: FuzzTarget<string> = {
  name: 'bundle-schema',
  testRuns: 150,
  covers:
    'Bundle documents built from the schema (placement, CEL, values, overlays, rollout, telemetry, apply) and manifests → parseBundleFiles',
  arbitrary: bundleText,
  check: (text) => {
    parseBundle(text);
  },
};

const bundleYaml: FuzzTarget<{ files: string[] }> = {
  name: 'bundle-yaml',
  testRuns: 150,
  found: [
    'YAML flow collections nested thousands deep, and mappings with thousands of keys, took minutes to parse (depth and duplicate-key checks were quadratic)',
    'a YAML mapping key that is itself a list or mapping was stringified with a process warning per document',
    'the bundle byte limit was checked after parsing, so an oversized body cost its full parse first',
    'YAML 1.1 dates, times of day, !!omap, !!set and !!binary became a Date, number, Map, Set or Buffer that a manifest carried as a changed string or {}; !!omap pairs carried list keys past the key check with a process warning (and, probing after it, .inf and .nan became null)',
  ],
  covers:
    'the same bundles as YAML/JSON text, mutated (YAML tokens, anchors, tags, indentation, truncation), over one or two files → parseBundleFiles',
  arbitrary: fc.record({ files: fc.array(mutated(bundleText, 6), { minLength: 1, maxLength: 2 }) }),
  check: ({ files }) => {
    const parsed = parsedOrRejected(() =>
      parseBundleFiles(files.map((content, i) => ({ path: `f${i}.yaml`, content }))),
    );
    for (const [i, o] of (parsed?.objects ?? []).entries()) assertPlainJson(o.object, `object ${i}`);
  },
};

const scopeArb: fc.Arbitrary<Scope> = fc.record({
  site: fc.record({
    name: fc.string({ maxLength: 6 }),
    labels,
    properties: fc.dictionary(fc.string({ maxLength: 4 }), jsonish),
  }),
  values: fc.dictionary(fc.constantFrom('replicas', 'image', 'a', '__proto__', 'constructor'), jsonish),
});

const placeholders: FuzzTarget<{ text: string; tree: unknown; scope: Scope }> = {
  name: 'placeholders',
  testRuns: 1000,
  found: [
    'a placeholder key with an escape JSON does not know (${site.labels["\\x"]}) threw a SyntaxError: bundle apply answered 500',
  ],
  covers:
    'template strings (well formed and not, quoted keys, $${ escapes) and trees of them → parseTemplate, findPlaceholders, substitute',
  arbitrary: fc.record({
    text: mutated(templateString, 2),
    tree: fc.dictionary(
      fc.oneof(fc.string({ maxLength: 4 }), templateString),
      fc.oneof(templateString, jsonish),
      { maxKeys: 4 },
    ),
    scope: scopeArb,
  }),
  check: ({ text, tree, scope }) => {
    const documented = [PlaceholderError, FieldError];
    parsedOrRejected(() => parseTemplate(text), documented);
    const before = JSON.stringify(tree);
    parsedOrRejected(() => findPlaceholders(tree), documented);
    parsedOrRejected(() => substitute(tree, scope), documented);
    assert.equal(JSON.stringify(tree), before, 'substitution leaves its input as it was');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  },
};

const overlays: FuzzTarget<{
  docs: unknown[];
  sites: FuzzSite[];
}> = {
  name: 'overlays',
  testRuns: 300,
  covers:
    'parsed bundles with overlays (selectors, image overrides, JSON patch, merge patch, values) placed and rendered for random sites → compileBundle/outcomeFor, the code placement runs',
  arbitrary: fc.record({ docs: bundleDocuments, sites: fc.array(site, { minLength: 1, maxLength: 3 }) }),
  check: ({ docs, sites }) => {
    const parsed = parseBundle(asYamlText(docs, 'json'));
    if (!parsed) return;
    const compiled = compileBundle({
      name: parsed.definition.name,
      revision: 1,
      namespace: parsed.definition.namespace,
      selector: parsed.definition.selector,
      placement: parsed.definition.fleet.placement,
      customization: parsed.definition.fleet.customization,
      origins: parsed.origins,
      objects: parsed.objects.map((o) => o.object),
    });
    sites.forEach((s, i) => {
      // outcomeFor turns every OutpostError into a failed outcome and lets anything else escape
      const outcome = outcomeFor(compiled, { id: `site-${i}`, active: true, ...s });
      if (outcome.kind === 'targeted') {
        for (const obj of outcome.blob.rendered.objects) {
          assert.equal(typeof (obj as KubeObject).metadata.name, 'string');
        }
      }
    });
  },
};

const mergePatchTarget: FuzzTarget<{ target: unknown; patch: unknown }> = {
  name: 'merge-patch',
  testRuns: 2000,
  covers:
    'any JSON merged into any JSON (prototype keys included) → mergePatch: never throws, never changes its inputs or Object.prototype, idempotent',
  arbitrary: fc.record({ target: jsonish, patch: jsonish }),
  check: ({ target, patch }) => {
    const before = JSON.stringify([target, patch]);
    const once = mergePatch(target, patch);
    assert.equal(JSON.stringify([target, patch]), before, 'inputs unchanged');
    assert.deepEqual(mergePatch(once, patch), once, 'applying a patch twice changes nothing more');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  },
};

const labelSelectors: FuzzTarget<{ selector: unknown; labels: Record<string, string> }> = {
  name: 'label-selectors',
  testRuns: 2000,
  found: [
    'a selector of the wrong JSON shape (a string for matchExpressions, a number for a key) threw a TypeError: bundle apply answered 500; a misspelt field selected every site',
  ],
  covers:
    'selectors as written in YAML (wrong shapes, misspelt fields, bad keys and values) → validateSelector; valid ones → matches/explain/format',
  arbitrary: fc.record({ selector: selectorAsWritten, labels }),
  check: ({ selector, labels: l }) => {
    const problems = validateSelector(selector);
    assert.ok(Array.isArray(problems));
    if (problems.length > 0) return countRejection('validateSelector problems');
    const sel = selector as LabelSelector;
    const matched = matchesSelector(sel, l);
    assert.equal(explainSelector(sel, l).matched, matched);
    assert.equal(typeof formatSelector(sel), 'string');
  },
};

const fieldValue = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.string({ maxLength: 4 }),
  fc.integer(),
  fc.boolean(),
  jsonish,
);

const where: FuzzTarget<{ where: unknown; values: unknown[] }> = {
  name: 'where',
  testRuns: 2000,
  covers:
    '`where` expressions in JSON (nested all/any/not, every field and op, wrong types, junk) → validateWhere; valid ones → evaluateWhere',
  arbitrary: fc.record({
    where: whereExpression,
    values: fc.array(fieldValue, { minLength: 1, maxLength: 6 }),
  }),
  check: ({ where: w, values }) => {
    const problems = validateWhere(w);
    assert.ok(Array.isArray(problems));
    if (problems.length > 0) return countRejection('validateWhere problems');
    let i = 0;
    const result = evaluateWhere(w as Where, () => values[i++ % values.length] as never);
    assert.equal(typeof result, 'boolean');
  },
};

const cel: FuzzTarget<{
  expression: string;
  sites: FuzzSite[];
}> = {
  name: 'cel',
  testRuns: 500,
  found: ['CEL had no cost limit: a replace() chain ran for minutes, nested comprehensions for seconds'],
  covers:
    'CEL from a grammar of its literals, variables, operators, string functions and macros (mutated now and then) → compileCel, then evaluate on random sites',
  arbitrary: fc.record({
    expression: fc.oneof(
      { weight: 4, arbitrary: celExpression },
      { weight: 1, arbitrary: mutated(celExpression, 3) },
    ),
    sites: fc.array(site, { minLength: 1, maxLength: 3 }),
  }),
  check: ({ expression, sites }) => {
    const compiled = parsedOrRejected(() => compileCel(expression), [CelCompileError]);
    if (!compiled) return;
    for (const s of sites) {
      const outcome = compiled.evaluate(s);
      if ('value' in outcome) assert.equal(typeof outcome.value, 'boolean');
      else assert.equal(typeof outcome.error, 'string');
    }
  },
};

const realJoinToken = encodeJoinToken({
  hub: 'https://hub.example.com:7070',
  caSha256: 'ab'.repeat(32),
  token: '0190c0de-0000-7000-8000-000000000001.s3cr3t',
});

const joinToken: FuzzTarget<{ text: string; hub: string; token: string }> = {
  name: 'join-token',
  testRuns: 2000,
  covers:
    'a real join token mutated (prefix, base64url body, JSON inside), and random hub URLs and tokens for the round trip → decodeJoinToken, encodeJoinToken',
  arbitrary: fc.record({
    text: fc.oneof(
      mutated(fc.constant(realJoinToken), 4),
      fc.string(),
      fc.string().map((s) => `outpost-join-v1.${s}`),
    ),
    hub: fc.oneof(fc.webUrl(), fc.string()),
    token: fc.string({ unit: 'binary' }),
  }),
  check: ({ text, hub, token }) => {
    const decoded = decodeJoinToken(text);
    if (!decoded) countRejection('decodeJoinToken undefined');
    if (decoded) {
      assert.equal(typeof decoded.hub, 'string');
      assert.equal(typeof decoded.token, 'string');
      assert.match(decoded.caSha256, /^[0-9a-f]{64}$/);
    }
    const t = { hub, caSha256: 'cd'.repeat(32), token };
    const round = decodeJoinToken(encodeJoinToken(t));
    // text that is not valid UTF-16 (a lone surrogate) cannot survive UTF-8; everything else must
    if (hub.isWellFormed() && token.isWellFormed()) assert.deepEqual(round, t);
  },
};

const csrKeys = Array.from({ length: 3 }, () => generateKeyPair().privateKeyPem);
const realCsrs = csrKeys.map((keyPem, i) => createCsr({ commonName: `site-${i}`, keyPem }));
const realCsrDer = realCsrs.map((pem) => fromPem(pem, 'CERTIFICATE REQUEST') as Buffer);

const csrText = fc.oneof(
  {
    weight: 3,
    arbitrary: mutatedBytes(fc.constantFrom(...realCsrDer), 3).map((bytes) =>
      toPem('CERTIFICATE REQUEST', bytes),
    ),
  },
  { weight: 2, arbitrary: mutated(fc.constantFrom(...realCsrs), 3) },
  { weight: 1, arbitrary: fc.string() },
);

const csr: FuzzTarget<string> = {
  name: 'csr',
  testRuns: 1000,
  covers:
    'real PKCS#10 CSRs mutated at the DER level (bit flips, length octets, truncation, insertion) and in their PEM text → verifyCsr',
  arbitrary: csrText,
  check: (text) => {
    const verified = parsedOrRejected(() => verifyCsr(text), [PkiError]);
    if (verified) assert.match(verified.commonName, /\S/);
  },
};

const derTarget: FuzzTarget<Uint8Array> = {
  name: 'der',
  testRuns: 1000,
  covers: 'real CSR DER mutated, and random bytes → decodeTree and every typed reader on every node',
  arbitrary: fc.oneof(mutatedBytes(fc.constantFrom(...realCsrDer), 4), fc.uint8Array({ maxLength: 64 })),
  check: (bytes) => {
    const tree = parsedOrRejected(() => der.decodeTree(bytes), [der.DerError]);
    if (!tree) return;
    const readers = [
      der.readOid,
      der.readString,
      der.readTime,
      der.readBitString,
      der.readBoolean,
      der.readSmallInteger,
      der.readUnsignedInteger,
      der.readOctetString,
      der.readNull,
    ];
    const pending = [tree];
    while (pending.length > 0) {
      const node = pending.pop()!;
      for (const read of readers) parsedOrRejected(() => read(node.tlv), [der.DerError]);
      pending.push(...(node.children ?? []));
    }
  },
};

const sortSpecs = ['name', '-name', 'key', 'count', '-count', 'label:region', 'property:lanes'];
const realCursors = [
  encodeCursor({ s: 'name', v: 'store-1', k: '0190c0de' }),
  encodeCursor({ s: 'key', v: null, k: JSON.stringify(['west', 3]) }),
  encodeCursor({ s: 'count', v: 4, k: JSON.stringify(['east']) }),
];
const groups: Group[] = [
  { key: ['west'], count: 3, values: {} },
  { key: ['east'], count: 1, values: {} },
  { key: [null], count: 2, values: {} },
];

const cursor: FuzzTarget<{ text: string; spec: string }> = {
  name: 'cursor',
  testRuns: 2000,
  covers:
    'real keyset cursors mutated (base64url, the JSON inside, its sort spec and key), and random text → decodeCursor, planQuery and paging grouped results after it',
  arbitrary: fc.record({
    text: fc.oneof(
      mutated(fc.constantFrom(...realCursors), 3),
      fc
        .record({
          s: fc.constantFrom(...sortSpecs),
          v: fc.oneof(fc.string(), fc.integer(), fc.constant(null), jsonish),
          k: fc.oneof(fc.string(), jsonish),
        })
        .map((c) => Buffer.from(JSON.stringify(c)).toString('base64url')),
      fc.string(),
    ),
    spec: fc.constantFrom(...sortSpecs),
  }),
  check: ({ text, spec }) => {
    parsedOrRejected(() => decodeCursor(text, spec));
    const grouped = spec === 'key' || spec === 'count' || spec === '-count';
    const plan = parsedOrRejected(() =>
      planQuery({ cursor: text, sort: spec, ...(grouped ? { groupBy: ['label:region'] } : {}) }),
    );
    if (plan && grouped) parsedOrRejected(() => pageGroups(groups, plan));
  },
};

/** Every pure-parser target, in the order the runner reports them. */
export const parserTargets: FuzzTarget<never>[] = [
  bundleSchema,
  bundleYaml,
  placeholders,
  overlays,
  mergePatchTarget,
  labelSelectors,
  where,
  cel,
  joinToken,
  csr,
  derTarget,
  cursor,
] as FuzzTarget<never>[];
