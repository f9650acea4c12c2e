import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { defaultApplyOptions } from '../model/apply-options.ts';
import { OutpostError } from '../model/errors.ts';
import { parseBundleFiles } from './bundle-files.ts';
import { renderForSite } from './rendered.ts';

// Seven lines, so a manifest after it in the same file starts at a known line.
const bundleDoc = [
  'apiVersion: outpost.dev/v1',
  'kind: Bundle',
  'metadata:',
  '  name: pos',
  'spec:',
  '  placement:',
  '    selector: {}',
].join('\n');

function file(path: string, ...lines: string[]): { path: string; content: string } {
  return { path, content: `${lines.join('\n')}\n` };
}

function configMap(name: string, extra: string[] = []): string {
  return ['apiVersion: v1', 'kind: ConfigMap', 'metadata:', `  name: ${name}`, ...extra].join('\n');
}

/** Asserts that parsing fails with an OutpostError of this code, file and line; returns it for more checks. */
function rejects(
  files: { path: string; content: string }[],
  want: { code: string; file?: string; line?: number; message?: RegExp },
): OutpostError {
  let caught: unknown;
  try {
    parseBundleFiles(files);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof OutpostError, `expected an OutpostError, got ${String(caught)}`);
  assert.equal(caught.code, want.code);
  if ('file' in want) assert.equal(caught.location.file, want.file);
  if ('line' in want) assert.equal(caught.location.line, want.line);
  if (want.message) assert.match(caught.message, want.message);
  return caught;
}

describe('a valid bundle', () => {
  test('a bundle over several files keeps every manifest with its file and line', () => {
    const parsed = parseBundleFiles([
      file(
        'bundle.yaml',
        'apiVersion: outpost.dev/v1',
        'kind: Bundle',
        'metadata:',
        '  name: pos',
        'spec:',
        '  namespace: shop',
        '  placement:',
        '    selector:',
        '      matchLabels:',
        '        format: mini',
        '      matchExpressions:',
        '        - key: region',
        '          operator: In',
        '          values: [west, east]',
      ),
      file('config.yaml', configMap('settings'), '---', configMap('flags')),
      file(
        'app.yaml',
        'apiVersion: apps/v1',
        'kind: Deployment',
        'metadata:',
        '  name: till',
        '  namespace: shop',
        'spec:',
        '  replicas: 2',
      ),
    ]);
    assert.deepEqual(parsed.definition, {
      name: 'pos',
      namespace: 'shop',
      selector: {
        matchLabels: { format: 'mini' },
        matchExpressions: [{ key: 'region', operator: 'In', values: ['west', 'east'] }],
      },
      fleet: { placement: {}, customization: {}, dependsOn: [] },
      options: defaultApplyOptions,
    });
    assert.deepEqual(
      parsed.objects.map((o) => [o.object.kind, o.object.metadata.name, o.file, o.line]),
      [
        ['ConfigMap', 'settings', 'config.yaml', 1],
        ['ConfigMap', 'flags', 'config.yaml', 6],
        ['Deployment', 'till', 'app.yaml', 1],
      ],
    );
    assert.deepEqual(parsed.objects[2]!.object.spec, { replicas: 2 });
  });

  test('the Bundle document need not come first, and is not among the objects', () => {
    const parsed = parseBundleFiles([file('a.yaml', configMap('first')), file('b.yaml', bundleDoc)]);
    assert.equal(parsed.definition.name, 'pos');
    assert.deepEqual(
      parsed.objects.map((o) => o.object.metadata.name),
      ['first'],
    );
  });

  test('a bundle with only its definition has no objects', () => {
    const parsed = parseBundleFiles([file('b.yaml', bundleDoc)]);
    assert.deepEqual(parsed.objects, []);
    assert.deepEqual(parsed.definition, {
      name: 'pos',
      selector: {},
      options: defaultApplyOptions,
      fleet: { placement: {}, customization: {}, dependsOn: [] },
    });
  });

  test('empty documents, a leading and a trailing "---" are skipped', () => {
    const parsed = parseBundleFiles([
      file('b.yaml', '---', bundleDoc, '---', '---', '# only a comment', '---', configMap('x'), '---'),
    ]);
    assert.deepEqual(
      parsed.objects.map((o) => [o.object.metadata.name, o.line]),
      [['x', 13]],
    );
  });

  test('an empty file contributes nothing', () => {
    const parsed = parseBundleFiles([file('b.yaml', bundleDoc), { path: 'empty.yaml', content: '' }]);
    assert.equal(parsed.objects.length, 0);
  });

  test('a line counts from the document content, past comments above it', () => {
    const parsed = parseBundleFiles([
      file('b.yaml', bundleDoc, '---', '# the shop settings', configMap('x')),
    ]);
    assert.equal(parsed.objects[0]!.line, 10);
  });
});

describe('YAML 1.1 semantics, as kubectl reads manifests', () => {
  const parsed = parseBundleFiles([
    file(
      'b.yaml',
      bundleDoc,
      '---',
      configMap('modes', ['data:', '  mode: 0755', '  enabled: on', '  off: yes']),
    ),
  ]);
  const data = parsed.objects[0]!.object.data as Record<string, unknown>;

  test('a leading-zero number is octal', () => {
    assert.equal(data.mode, 493);
  });

  test('on and yes are booleans, as values and as keys', () => {
    assert.equal(data.enabled, true);
    assert.equal(data.false, true);
    assert.ok(!('off' in data));
  });
});

describe('errors name the file and line to fix', () => {
  test('invalid YAML gives manifest_invalid at the offending line', () => {
    const err = rejects(
      [file('b.yaml', bundleDoc, '---', 'apiVersion: v1', 'kind: ConfigMap', 'metadata:', '\tname: x')],
      {
        code: 'manifest_invalid',
        file: 'b.yaml',
        line: 12,
        message: /^invalid YAML: /,
      },
    );
    assert.equal(typeof err.location.column, 'number');
  });

  test('a duplicate mapping key is invalid YAML at the second key', () => {
    rejects(
      [file('b.yaml', bundleDoc), file('m.yaml', 'apiVersion: v1', 'kind: ConfigMap', 'kind: Secret')],
      {
        code: 'manifest_invalid',
        file: 'm.yaml',
        line: 3,
        message: /invalid YAML/,
      },
    );
  });

  test('the error message is a single line', () => {
    const err = rejects([file('m.yaml', 'a: 1', '  b: 2')], {
      code: 'manifest_invalid',
      file: 'm.yaml',
      line: 1,
    });
    assert.ok(!err.message.includes('\n'));
  });

  const missing: { name: string; lines: string[]; message: RegExp }[] = [
    {
      name: 'apiVersion',
      lines: ['kind: ConfigMap', 'metadata:', '  name: a'],
      message: /apiVersion is missing/,
    },
    { name: 'kind', lines: ['apiVersion: v1', 'metadata:', '  name: a'], message: /kind is missing/ },
    { name: 'metadata', lines: ['apiVersion: v1', 'kind: ConfigMap'], message: /metadata\.name is missing/ },
    {
      name: 'metadata.name',
      lines: ['apiVersion: v1', 'kind: ConfigMap', 'metadata:', '  labels: {a: b}'],
      message: /metadata\.name is missing/,
    },
  ];
  for (const m of missing) {
    test(`a manifest without ${m.name} is refused at the line its document starts`, () => {
      rejects([file('b.yaml', bundleDoc, '---', configMap('ok'), '---', ...m.lines)], {
        code: 'manifest_invalid',
        file: 'b.yaml',
        line: 14,
        message: m.message,
      });
    });
  }

  test('a manifest that is not a mapping is refused', () => {
    rejects([file('b.yaml', bundleDoc, '---', '- a', '- b')], {
      code: 'manifest_invalid',
      file: 'b.yaml',
      line: 9,
      message: /mapping/,
    });
  });

  test('a second Bundle document is refused where it is, naming the first', () => {
    const err = rejects([file('a.yaml', bundleDoc), file('b.yaml', configMap('x'), '---', bundleDoc)], {
      code: 'bundle_invalid',
      file: 'b.yaml',
      line: 6,
    });
    assert.match(err.message, /a\.yaml:1/);
  });

  test('no Bundle document is bundle_invalid naming the files', () => {
    const err = rejects([file('a.yaml', configMap('x')), file('b.yaml', configMap('y'))], {
      code: 'bundle_invalid',
      file: 'a.yaml',
    });
    assert.match(err.message, /a\.yaml, b\.yaml/);
  });

  test('a Bundle of another apiVersion is not the bundle definition', () => {
    rejects([file('a.yaml', bundleDoc.replace('outpost.dev/v1', 'outpost.dev/v2'))], {
      code: 'bundle_invalid',
    });
  });

  test('the same object twice is refused at the second, naming the first occurrence', () => {
    const err = rejects(
      [
        file('b.yaml', bundleDoc),
        file('one.yaml', configMap('dup')),
        file('two.yaml', configMap('x'), '---', configMap('dup')),
      ],
      { code: 'manifest_invalid', file: 'two.yaml', line: 6 },
    );
    assert.match(err.message, /ConfigMap dup appears twice/);
    assert.match(err.message, /one\.yaml:1/);
  });

  test('a SealedSecret with a value that is not sealed is refused at its line', () => {
    const sealed = [
      'apiVersion: outpost.dev/v1',
      'kind: SealedSecret',
      'metadata: {name: till, namespace: pos}',
      'spec:',
      '  encryptedData:',
      '    password:',
      '      store-1: hunter2',
    ];
    const err = rejects([file('b.yaml', bundleDoc), file('s.yaml', ...sealed)], {
      code: 'manifest_invalid',
      file: 's.yaml',
      line: 7,
    });
    assert.match(err.message, /SealedSecret spec\.encryptedData\.password\.store-1 is not a sealed value/);
    assert.ok(!err.message.includes('hunter2'), 'the error does not repeat the value');
  });

  test('the same name in different namespaces is two objects', () => {
    const parsed = parseBundleFiles([
      file(
        'b.yaml',
        bundleDoc,
        '---',
        configMap('x', ['  namespace: a']),
        '---',
        configMap('x', ['  namespace: b']),
      ),
    ]);
    assert.equal(parsed.objects.length, 2);
  });

  test('the same object under another version of its group is still a duplicate', () => {
    rejects(
      [
        file(
          'b.yaml',
          bundleDoc,
          '---',
          'apiVersion: apps/v1',
          'kind: Deployment',
          'metadata: {name: till}',
          '---',
          'apiVersion: apps/v1beta2',
          'kind: Deployment',
          'metadata: {name: till}',
        ),
      ],
      { code: 'manifest_invalid', line: 13, message: /appears twice/ },
    );
  });

  test('an unknown spec field of the Bundle is refused', () => {
    const err = rejects([file('b.yaml', configMap('x'), '---', bundleDoc, '  replicas: 3')], {
      code: 'bundle_invalid',
      file: 'b.yaml',
      line: 6,
    });
    assert.match(err.message, /spec\.replicas/);
  });

  test('a Bundle without metadata.name is refused', () => {
    rejects([file('b.yaml', bundleDoc.replace('  name: pos', '  labels: {}'))], {
      code: 'bundle_invalid',
      line: 1,
      message: /metadata\.name/,
    });
  });

  test('a Bundle name that is not a DNS label is refused', () => {
    rejects([file('b.yaml', bundleDoc.replace('name: pos', 'name: Point_Of_Sale'))], {
      code: 'bundle_invalid',
      message: /DNS label/,
    });
  });

  test('a Bundle without a placement selector is refused', () => {
    rejects([file('b.yaml', bundleDoc.replace('    selector: {}', '    other: {}'))], {
      code: 'bundle_invalid',
      message: /placement\.selector/,
    });
  });

  test('an invalid selector is selector_invalid, naming the bad part', () => {
    const err = rejects(
      [
        file(
          'b.yaml',
          bundleDoc.replace(
            '    selector: {}',
            [
              '    selector:',
              '      matchExpressions:',
              '        - {key: region, operator: Near, values: [x]}',
            ].join('\n'),
          ),
        ),
      ],
      { code: 'selector_invalid', file: 'b.yaml', line: 1 },
    );
    assert.match(err.message, /spec\.placement\.selector\.matchExpressions\[0\]\.operator/);
  });

  test('metadata.generateName is refused: a declarative object needs a fixed name', () => {
    rejects([file('b.yaml', bundleDoc, '---', configMap('x', ['  generateName: x-']))], {
      code: 'manifest_invalid',
      line: 9,
      message: /generateName/,
    });
  });

  test('a List kind is refused: each item goes in its own document', () => {
    rejects(
      [
        file(
          'b.yaml',
          bundleDoc,
          '---',
          'apiVersion: v1',
          'kind: List',
          'metadata:',
          '  name: l',
          'items: []',
        ),
      ],
      { code: 'manifest_invalid', line: 9, message: /List is not applied as one object/ },
    );
  });

  test('a typed list such as ConfigMapList is refused too', () => {
    rejects(
      [
        file(
          'b.yaml',
          bundleDoc,
          '---',
          'apiVersion: v1',
          'kind: ConfigMapList',
          'metadata: {name: l}',
          'items: []',
        ),
      ],
      {
        code: 'manifest_invalid',
        message: /ConfigMapList/,
      },
    );
  });

  test('a custom kind whose name ends in List is an ordinary object', () => {
    const parsed = parseBundleFiles([
      file(
        'b.yaml',
        bundleDoc,
        '---',
        'apiVersion: example.com/v1',
        'kind: AllowList',
        'metadata: {name: l}',
      ),
    ]);
    assert.deepEqual(
      parsed.objects.map((o) => o.object.kind),
      ['AllowList'],
    );
  });

  test('every parse error is an OutpostError with one of the manifest codes', () => {
    const broken = [
      [file('a.yaml', 'x: [')],
      [file('a.yaml', configMap('x'))],
      [file('a.yaml', bundleDoc.replace('selector: {}', 'selector: {matchLabels: {"a b": c}}'))],
    ];
    const codes = broken.map((files) => {
      try {
        parseBundleFiles(files);
        return 'none';
      } catch (e) {
        return e instanceof OutpostError ? e.code : 'foreign';
      }
    });
    assert.deepEqual(codes, ['manifest_invalid', 'bundle_invalid', 'selector_invalid']);
  });
});

describe('spec.apply: how the bundle is applied at each site', () => {
  const withApply = (...lines: string[]) =>
    file('b.yaml', bundleDoc, '  apply:', ...lines.map((l) => `    ${l}`));

  test('a bundle that says nothing gets the edge defaults', () => {
    const { options } = parseBundleFiles([file('b.yaml', bundleDoc)]).definition;
    assert.deepEqual(options, {
      force: false,
      deletionPolicy: 'Delete',
      readiness: 'Pessimistic',
      progressDeadlineSeconds: 600,
      rollback: true,
      correctDrift: true,
      prePull: { enabled: false, deadlineSeconds: 600 },
    });
  });

  test('what the bundle sets wins; the rest keeps its default', () => {
    const { options } = parseBundleFiles([
      withApply(
        'force: true',
        'deletionPolicy: Orphan',
        'readiness: Optimistic',
        'correctDrift: false',
        'prePull: {enabled: true}',
      ),
    ]).definition;
    assert.deepEqual(options, {
      ...defaultApplyOptions,
      force: true,
      deletionPolicy: 'Orphan',
      readiness: 'Optimistic',
      correctDrift: false,
      prePull: { enabled: true, deadlineSeconds: 600 },
    });
  });

  const bad: { lines: string[]; line: number; message: RegExp }[] = [
    {
      lines: ['readiness: Eventually'],
      line: 9,
      message: /spec\.apply\.readiness is one of Optimistic, Pessimistic/,
    },
    {
      lines: ['force: false', 'deletionPolicy: delete'],
      line: 10,
      message: /spec\.apply\.deletionPolicy is one of Delete, Orphan/,
    },
    {
      lines: ['progressDeadlineSeconds: 0'],
      line: 9,
      message: /progressDeadlineSeconds is a whole number of seconds/,
    },
    {
      lines: ['progressDeadlineSeconds: 1.5'],
      line: 9,
      message: /progressDeadlineSeconds is a whole number/,
    },
    { lines: ['rollback: "yes"'], line: 9, message: /spec\.apply\.rollback is true or false/ },
    { lines: ['correctDrift: 1'], line: 9, message: /spec\.apply\.correctDrift is true or false/ },
    {
      lines: ['prePull:', '  enabled: true', '  deadline: 5'],
      line: 11,
      message: /spec\.apply\.prePull\.deadline unknown field/,
    },
    {
      lines: ['prePull: {deadlineSeconds: -1}'],
      line: 9,
      message: /spec\.apply\.prePull\.deadlineSeconds is a whole number/,
    },
    {
      lines: ['retries: 3'],
      line: 9,
      message: /spec\.apply\.retries unknown field \(known: force, deletionPolicy/,
    },
  ];
  for (const b of bad) {
    test(`${b.lines.join('; ')} is refused at the line that says it`, () => {
      rejects([withApply(...b.lines)], {
        code: 'bundle_invalid',
        file: 'b.yaml',
        line: b.line,
        message: b.message,
      });
    });
  }

  test('spec.apply that is not a mapping is refused', () => {
    rejects([file('b.yaml', bundleDoc, '  apply: fast')], {
      code: 'bundle_invalid',
      line: 8,
      message: /spec\.apply is a mapping/,
    });
  });
});

describe('spec.telemetry', () => {
  const withTelemetry = (...lines: string[]) =>
    file('b.yaml', bundleDoc, '  telemetry:', ...lines.map((l) => `    ${l}`));

  test('is read with its defaults and carried to the site in the rendered bundle', () => {
    const parsed = parseBundleFiles([
      withTelemetry(
        'targets: [http://127.0.0.1:8080/metrics]',
        'slis:',
        '  requests: {metric: http_requests_total}',
        '  errors: {metric: http_requests_total, match: {code: "5.."}}',
      ),
    ]);
    const telemetry = parsed.definition.fleet.telemetry;
    assert.deepEqual(telemetry, {
      intervalSeconds: 30,
      targets: ['http://127.0.0.1:8080/metrics'],
      annotatedPods: false,
      slis: {
        requests: { metric: 'http_requests_total' },
        errors: { metric: 'http_requests_total', match: { code: '5..' } },
      },
      forward: [],
    });
    const blob = renderForSite({ bundle: 'pos', objects: [], telemetry });
    assert.deepEqual(blob.rendered.telemetry, telemetry);
    assert.notEqual(blob.digest, renderForSite({ bundle: 'pos', objects: [] }).digest);
    assert.equal(parseBundleFiles([file('b.yaml', bundleDoc)]).definition.fleet.telemetry, undefined);
  });

  test('a mistake is refused at the line that says it', () => {
    rejects(
      [
        withTelemetry(
          'targets: [http://127.0.0.1:8080/metrics]',
          'slis:',
          '  errors:',
          '    metric: http_requests_total',
          '    match: {code: "5..("}',
        ),
      ],
      {
        code: 'bundle_invalid',
        file: 'b.yaml',
        line: 13,
        message: /spec\.telemetry\.slis\.errors\.match\.code: is not a valid regex/,
      },
    );
    rejects([withTelemetry('targets:', '  - http://ok/metrics', '  - ftp://no')], {
      code: 'bundle_invalid',
      line: 11,
      message: /spec\.telemetry\.targets\.1: is an http\(s\) URL/,
    });
  });
});

describe('a selector of the wrong shape is refused, wherever it is written', () => {
  const bundle = (placement: string, more: string[] = []) =>
    file(
      'b.yaml',
      'apiVersion: outpost.dev/v1',
      'kind: Bundle',
      'metadata: {name: pos}',
      'spec:',
      `  placement: {selector: ${placement}}`,
      ...more,
      '---',
      configMap('c'),
    );

  test('in the placement', () => {
    rejects([bundle('{matchExpressions: "region=west"}')], {
      code: 'selector_invalid',
      message: /spec\.placement\.selector\.matchExpressions: must be a list/,
    });
    rejects([bundle('{matchLabels: {version: 1.5}}')], {
      code: 'selector_invalid',
      message: /must be a string/,
    });
    rejects([bundle('{matchLabel: {region: west}}')], { code: 'selector_invalid', message: /unknown field/ });
  });

  test("in an overlay's selector", () => {
    rejects([bundle('{}', ['  overlays: [{selector: {matchExpressions: [5]}, values: {a: 1}}]'])], {
      code: 'bundle_invalid',
      message: /spec\.overlays\.0\.selector: matchExpressions\[0\]: must be a mapping/,
    });
  });

  test('in a rollout wave', () => {
    rejects(
      [bundle('{}', ['  rollout: {waves: [{selector: {matchExpressions: [{key: 7, operator: Exists}]}}]}'])],
      {
        code: 'bundle_invalid',
        message: /spec\.rollout\.waves\.0\.selector\.matchExpressions\.0\.key: must be a string/,
      },
    );
  });
});

describe('the reserved agent bundle', () => {
  const agentBundleDoc = bundleDoc.replace('name: pos', 'name: outpost-agent');
  const release = [
    'apiVersion: outpost.dev/v1',
    'kind: AgentRelease',
    'metadata: {name: outpost-agent}',
    'spec:',
    '  version: 0.2.0',
    `  digest: sha256:${'e'.repeat(64)}`,
    '  size: 1000',
    '  signature: c2ln',
  ].join('\n');

  test('holds one AgentRelease, read with the default deadline', () => {
    const parsed = parseBundleFiles([file('agent.yaml', agentBundleDoc, '---', release)]);
    assert.equal(parsed.objects.length, 1);
    assert.equal(parsed.objects[0]!.object.kind, 'AgentRelease');
  });

  test('an AgentRelease in another bundle is refused at its line', () => {
    rejects([file('pos.yaml', bundleDoc, '---', release)], {
      code: 'bundle_invalid',
      file: 'pos.yaml',
      line: 9,
      message: /belongs only in the bundle named outpost-agent/,
    });
  });

  test('anything beside the release is refused, and so is a malformed release', () => {
    rejects([file('agent.yaml', agentBundleDoc, '---', release, '---', configMap('x'))], {
      code: 'bundle_invalid',
      line: 1,
      message: /exactly one AgentRelease and nothing else/,
    });
    rejects([file('agent.yaml', agentBundleDoc, '---', release.replace('size: 1000', 'size: many'))], {
      code: 'bundle_invalid',
      line: 9,
      message: /spec.size/,
    });
  });
});
