import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { encodeWriteRequest, toSeries } from './remote-write.ts';

/** Reads a WriteRequest back with protobuf's own wire reader. */
function decode(bytes: Uint8Array) {
  const series: { labels: [string, string][]; samples: [number, number][] }[] = [];
  const req = new BinaryReader(bytes);
  while (req.pos < req.len) {
    const [field] = req.tag();
    assert.equal(field, 1);
    const ts = new BinaryReader(req.bytes());
    const s = { labels: [] as [string, string][], samples: [] as [number, number][] };
    while (ts.pos < ts.len) {
      const [f, wire] = ts.tag();
      assert.equal(wire, WireType.LengthDelimited);
      const inner = new BinaryReader(ts.bytes());
      if (f === 1) {
        inner.tag();
        const name = inner.string();
        inner.tag();
        s.labels.push([name, inner.string()]);
      } else {
        inner.tag();
        const value = inner.double();
        inner.tag();
        s.samples.push([value, Number(inner.int64())]);
      }
    }
    series.push(s);
  }
  return series;
}

test('samples become sorted-label series, oldest sample first, and encode as a WriteRequest', () => {
  const t = 1_763_700_000_123;
  const series = toSeries([
    { site: 'store-1', sample: { class: 'sli', name: 'requests_total', bundle: 'pos', t: t + 1000, v: 7 } },
    { site: 'store-1', sample: { class: 'sli', name: 'requests_total', bundle: 'pos', t, v: 5.5 } },
    {
      site: 'store-2',
      sample: { class: 'metric', name: 'up', labels: { job: 'x', site: 'spoofed' }, t, v: 1 },
    },
  ]);
  assert.deepEqual(series, [
    {
      labels: [
        ['__name__', 'requests_total'],
        ['bundle', 'pos'],
        ['site', 'store-1'],
      ],
      samples: [
        [5.5, t],
        [7, t + 1000],
      ],
    },
    {
      labels: [
        ['__name__', 'up'],
        ['job', 'x'],
        ['site', 'store-2'],
      ],
      samples: [[1, t]],
    },
  ]);
  assert.deepEqual(decode(encodeWriteRequest(series)), series);
});
