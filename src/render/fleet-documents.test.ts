import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OutpostError } from '../model/errors.ts';
import { parseBundleFiles, parseYamlFile } from './bundle-files.ts';
import { type FleetDocument, parseFleetDocument } from './fleet-documents.ts';

function parse(content: string): FleetDocument {
  const [doc] = parseYamlFile({ path: 'fleet/docs.yaml', content });
  return parseFleetDocument(doc!.value as Record<string, unknown>, doc!);
}

function refusal(content: string): string {
  try {
    parse(content);
  } catch (e) {
    assert.ok(e instanceof OutpostError);
    return `${e.location.file}:${e.location.line} ${e.message}`;
  }
  assert.fail('the document was accepted');
}

const sloDoc = (spec: string) =>
  `apiVersion: outpost.dev/v1\nkind: SLO\nmetadata: {name: pos-availability}\nspec:\n${spec}`;

test('an SLO document is the API SloSpec with its name in metadata', () => {
  const doc = parse(
    sloDoc(
      '  bundle: pos\n  objective: 0.999\n  window: 28d\n  sli: {kind: errors}\n  selector: {matchLabels: {region: west}}\n',
    ),
  );
  assert.deepEqual(doc, {
    kind: 'SLO',
    name: 'pos-availability',
    spec: {
      name: 'pos-availability',
      bundle: 'pos',
      objective: 0.999,
      window: '28d',
      sli: { kind: 'errors' },
      selector: { matchLabels: { region: 'west' } },
    },
    file: 'fleet/docs.yaml',
    line: 1,
    windowLine: 7,
  });
});

test('an SLO field the API would refuse is refused at its line, said as an operator writes it', () => {
  assert.equal(
    refusal(sloDoc('  bundle: pos\n  objective: 99.9\n  window: 28d\n  sli: {kind: errors}\n')),
    'fleet/docs.yaml:6 SLO spec.objective: a fraction between 0 and 1, such as 0.999',
  );
  assert.equal(
    refusal(sloDoc('  bundle: pos\n  objective: 0.9\n  window: 4 weeks\n  sli: {kind: errors}\n')),
    'fleet/docs.yaml:7 SLO spec.window: a length in minutes, hours or days, such as 28d, 6h or 30m',
  );
  assert.equal(
    refusal(sloDoc('  bundle: pos\n  objective: 0.9\n  window: 7d\n')),
    'fleet/docs.yaml:5 SLO spec.sli: required: {kind: errors} or {kind: latency}',
  );
  assert.match(
    refusal(sloDoc('  bundle: pos\n  objectiv: 0.9\n')),
    /^fleet\/docs\.yaml:6 SLO spec\.objectiv: unknown field \(known: bundle, selector/,
  );
  assert.match(
    refusal(
      sloDoc(
        '  bundle: pos\n  objective: 0.9\n  window: 7d\n  sli: {kind: errors}\n  selector: {matchLabels: {"bad key!": x}}\n',
      ),
    ),
    /^fleet\/docs\.yaml:9 SLO spec\.selector: matchLabels/,
  );
});

test('a RolloutStrategy document is checked like an inline strategy, and may not take a built-in name', () => {
  const doc = parse(
    'apiVersion: outpost.dev/v1\nkind: RolloutStrategy\nmetadata: {name: careful}\nspec:\n  waves: [{name: first, count: 1}, {name: rest, percent: 100}]\n  bakeSeconds: 60\n',
  );
  assert.deepEqual(doc, {
    kind: 'RolloutStrategy',
    name: 'careful',
    strategy: {
      waves: [
        { name: 'first', count: 1 },
        { name: 'rest', percent: 100 },
      ],
      bakeSeconds: 60,
    },
    file: 'fleet/docs.yaml',
    line: 1,
  });
  assert.match(
    refusal(
      'apiVersion: outpost.dev/v1\nkind: RolloutStrategy\nmetadata: {name: careful}\nspec:\n  waves:\n    - {name: first, count: 0}\n',
    ),
    /^fleet\/docs\.yaml:6 RolloutStrategy spec\.waves\.0\.count: /,
  );
  assert.equal(
    refusal('apiVersion: outpost.dev/v1\nkind: RolloutStrategy\nmetadata: {name: canary}\nspec: {}\n'),
    'fleet/docs.yaml:3 RolloutStrategy metadata.name: canary is a built-in strategy; give yours another name',
  );
});

test('a bundle may name a strategy the hub or its repository has; any other name is refused at its line', () => {
  const files = [
    {
      path: 'kiosk/bundle.yaml',
      content:
        'apiVersion: outpost.dev/v1\nkind: Bundle\nmetadata: {name: kiosk}\nspec:\n  placement: {selector: {}}\n  rollout: careful\n',
    },
  ];
  assert.equal(
    parseBundleFiles(files, { strategies: new Set(['careful']) }).definition.fleet.rollout,
    'careful',
  );
  assert.throws(
    () => parseBundleFiles(files),
    (e: OutpostError) =>
      e.location.line === 6 && /no strategy named "careful"; use one of canary/.test(e.message),
  );
});

test('bundle apply refuses SLO documents among its files; a source skips them for its own sync', () => {
  const files = [
    {
      path: 'kiosk.yaml',
      content:
        'apiVersion: outpost.dev/v1\nkind: Bundle\nmetadata: {name: kiosk}\nspec: {placement: {selector: {}}}\n',
    },
    { path: 'slo.yaml', content: sloDoc('  bundle: kiosk\n') },
  ];
  assert.throws(
    () => parseBundleFiles(files),
    (e: OutpostError) =>
      e.location.file === 'slo.yaml' &&
      /a SLO document is not part of a bundle.*outpost slo apply/.test(e.message),
  );
  assert.equal(parseBundleFiles(files, { skipFleetDocuments: true }).objects.length, 0);
});
