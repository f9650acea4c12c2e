import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Value } from 'typebox/value';
import { TelemetryBatch, TelemetryEvent, TelemetrySample } from '../../../model/telemetry.ts';
import { isTelemetryBatch, isTelemetryEvent, isTelemetrySample } from './wire-check.ts';

// Values near every limit of the contract, valid and not, so both checkers are asked the hard questions.
const text = (max: number) =>
  fc.oneof(
    fc.string({ maxLength: max + 2 }),
    fc.string({ unit: 'grapheme', maxLength: 3 }).map((s) => s.repeat(Math.ceil(max / 2))),
    fc.constant(''),
  );
const anyNumber = fc.oneof(
  fc.integer({ min: -3, max: 3 }),
  fc.double(),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60, 1.5),
);
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
const sample = fc.record(
  {
    class: fc.constantFrom('sli', 'metric', 'debug', 'event'),
    name: fc.oneof(fc.constantFrom('requests_total', 'a:b', '9x', 'x-y', ''), text(201)),
    bundle: maybe(text(254)),
    labels: maybe(fc.dictionary(text(101), fc.oneof(text(257), fc.constant(3) as fc.Arbitrary<unknown>))),
    t: anyNumber,
    d: maybe(anyNumber),
    v: anyNumber,
  },
  { requiredKeys: ['class', 'name', 't', 'v'] },
);
const event = fc.record(
  {
    t: anyNumber,
    bundle: maybe(text(254)),
    type: fc.constantFrom('Normal', 'Warning', 'Error'),
    object: text(601),
    reason: text(257),
    message: fc.oneof(text(20), fc.constant('m'.repeat(4097))),
    count: maybe(anyNumber),
  },
  { requiredKeys: ['t', 'type', 'object', 'reason', 'message'] },
);

test('the hand-written checks accept exactly what the wire contract accepts', () => {
  fc.assert(
    fc.property(sample, (s) =>
      assert.equal(isTelemetrySample(s), Value.Check(TelemetrySample, s), JSON.stringify(s)),
    ),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(event, (e) =>
      assert.equal(isTelemetryEvent(e), Value.Check(TelemetryEvent, e), JSON.stringify(e)),
    ),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(
      fc.oneof(fc.constantFrom('a.1', 'x y', ''), text(129)),
      fc.array(sample, { maxLength: 3 }),
      fc.array(event, { maxLength: 3 }),
      fc.record({ sli: anyNumber, event: anyNumber, metric: anyNumber, debug: anyNumber }),
      (batchId, samples, events, dropped) => {
        const b = { batchId, samples, events, dropped };
        assert.equal(isTelemetryBatch(b), Value.Check(TelemetryBatch, b), JSON.stringify(b));
      },
    ),
    { numRuns: 2000 },
  );
});
