import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OutpostError } from '../model/errors.ts';
import { parseYamlFile } from './bundle-files.ts';
import { type FleetDocument, parseFleetDocument } from './fleet-documents.ts';

function parse(content: string): FleetDocument {
  const [doc] = parseYamlFile({ path: 'fleet/profiles/store.yaml', content });
  return parseFleetDocument(doc!.value as Record<string, unknown>, doc!);
}

function refusal(content: string): string {
  try {
    parse(content);
  } catch (e) {
    assert.ok(e instanceof OutpostError);
    return `${e.code} ${e.location.file}:${e.location.line} ${e.message}`;
  }
  assert.fail('the profile was accepted');
}

const profile = (spec: string) =>
  `apiVersion: outpost.dev/v1\nkind: Profile\nmetadata: {name: store}\nspec:\n  placement:\n    selector: {matchLabels: {format: mini}}\n${spec}`;

const fullStack = profile(
  [
    '  kubernetes: {distribution: k3s, version: v1.31.4+k3s1}',
    '  os: {image: Ubuntu, version: "24.04"}',
    '  agent: {version: 0.3.0}',
    '  addons:',
    '    - {bundle: monitoring, revision: 4}',
    '  apps:',
    '    - {bundle: pos}',
    '',
  ].join('\n'),
);

test('a Profile document declares layers and is placed like a bundle', () => {
  assert.deepEqual(parse(fullStack), {
    kind: 'Profile',
    name: 'store',
    spec: {
      kubernetes: { distribution: 'k3s', version: 'v1.31.4+k3s1' },
      os: { image: 'Ubuntu', version: '24.04' },
      agent: { version: '0.3.0' },
      addons: [{ bundle: 'monitoring', revision: 4 }],
      apps: [{ bundle: 'pos' }],
      upgradeDeadlineSeconds: 3600,
    },
    placement: { selector: { matchLabels: { format: 'mini' } } },
    file: 'fleet/profiles/store.yaml',
    line: 1,
  });
});

test('placement takes cel, include and exclude as a bundle does', () => {
  const doc = parse(
    'apiVersion: outpost.dev/v1\nkind: Profile\nmetadata: {name: store}\nspec:\n  placement:\n    selector: {}\n    cel: has(properties.storeId)\n    exclude: [store-13]\n  os: {image: Ubuntu, version: "24.04"}\n',
  );
  assert.ok(doc.kind === 'Profile');
  assert.deepEqual(doc.placement, { selector: {}, cel: 'has(properties.storeId)', exclude: ['store-13'] });
});

test('a version that is not of the named distribution is refused on its line', () => {
  assert.equal(
    refusal(profile('  kubernetes:\n    distribution: rke2\n    version: v1.31.4+k3s1\n')),
    'bundle_invalid fleet/profiles/store.yaml:9 Profile spec.kubernetes.version: v1.31.4+k3s1 is not a rke2 release (such as v1.31.4+rke2r1)',
  );
});

test('each bad field is named with its line', () => {
  const cases: Array<[string, string]> = [
    [
      '  kubernetes: {distribution: microk8s, version: v1.31.4}\n',
      ':7 Profile spec.kubernetes.distribution: one of k3s, rke2, other',
    ],
    ['  os:\n    image: Ubuntu\n    version: 24.04.1-lts\n', ':9 Profile spec.os.version: a dotted number'],
    ['  agent: {version: ../etc}\n', ':7 Profile spec.agent.version: "../etc" is not a release version'],
    [
      '  addons:\n    - {bundle: cni}\n    - {bundle: Bad_Name}\n',
      ':9 Profile spec.addons.1.bundle: a bundle name',
    ],
    ['  apps:\n    - {bundle: pos, revision: 0}\n', ':8 Profile spec.apps.0.revision: a bundle revision'],
    [
      '  apps:\n    - {bundle: outpost-agent}\n',
      ':8 Profile spec.apps.0.bundle: outpost-agent is the agent layer',
    ],
    [
      '  addons: [{bundle: pos}]\n  apps:\n    - {bundle: pos}\n',
      ':9 Profile spec.apps.0.bundle: this bundle is already an add-on',
    ],
    ['  kernel: {version: "6.8"}\n', ':7 Profile spec.kernel: unknown field'],
    [
      '  os: {image: Ubuntu, version: "24.04"}\n  upgradeDeadlineSeconds: 5\n',
      ':8 Profile spec.upgradeDeadlineSeconds: a whole number',
    ],
  ];
  for (const [spec, expected] of cases) {
    const [where, message] = [
      expected.slice(0, expected.indexOf(' ')),
      expected.slice(expected.indexOf(' ') + 1),
    ];
    const got = refusal(profile(spec));
    assert.ok(
      got.startsWith(`bundle_invalid fleet/profiles/store.yaml${where} ${message}`),
      `${spec} → ${got}`,
    );
  }
});

test('a profile without a layer or without placement is refused', () => {
  assert.match(refusal(profile('')), /at least one layer of os, kubernetes, agent, addons, apps/);
  assert.match(
    refusal(
      'apiVersion: outpost.dev/v1\nkind: Profile\nmetadata: {name: store}\nspec:\n  os: {image: Ubuntu, version: "24.04"}\n',
    ),
    /:5 Profile spec.placement: required: placement.selector/,
  );
  assert.match(
    refusal(
      profile('  os: {image: Ubuntu, version: "24.04"}\n').replace(
        '{matchLabels: {format: mini}}',
        '{matchLabels: {"bad key!": x}}',
      ),
    ),
    /:6 Profile spec.placement.selector: /,
  );
});
