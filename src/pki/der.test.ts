// Tests for the minimal DER encoder/decoder: exact encodings, round trips, and refusal of malformed input
// (including fuzzing: the decoder only ever throws DerError and always terminates).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import * as der from './der.ts';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const bytesOf = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h.replace(/\s+/g, ''), 'hex'));

function assertDerError(fn: () => unknown, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof der.DerError, `expected DerError, got ${String(err)}`);
    if (message !== undefined) assert.match(err.message, message);
    return true;
  });
}

describe('INTEGER encoding is minimal and non-negative', () => {
  const cases: Array<[number[], string]> = [
    [[], '020100'],
    [[0], '020100'],
    [[0, 0, 0], '020100'],
    [[0x7f], '02017f'],
    [[0x80], '02020080'],
    [[0xff], '020200ff'],
    [[0x01, 0x00], '02020100'],
    [[0x00, 0x00, 0x01], '020101'],
    [[0xff, 0xff], '020300ffff'],
    [[0x80, 0x00, 0x00], '0204' + '00800000'],
  ];
  for (const [input, expected] of cases) {
    test(`[${input.join(',')}] encodes as ${expected}`, () => {
      assert.equal(hex(der.integer(Uint8Array.from(input))), expected);
    });
  }

  test('small integers 0, 127, 128, 255, 256', () => {
    assert.equal(hex(der.smallInteger(0)), '020100');
    assert.equal(hex(der.smallInteger(127)), '02017f');
    assert.equal(hex(der.smallInteger(128)), '02020080');
    assert.equal(hex(der.smallInteger(255)), '020200ff');
    assert.equal(hex(der.smallInteger(256)), '02020100');
    assert.throws(() => der.smallInteger(-1), der.DerError);
  });

  test('any magnitude round-trips to its minimal form', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        const encoded = der.integer(bytes);
        const back = der.readUnsignedInteger(der.decodeOne(encoded));
        const stripped = hex(bytes).replace(/^(00)+/, '');
        assert.equal(hex(back), stripped === '' ? '00' : stripped);
        // top bit of the content is never set (non-negative), and no redundant leading 00
        const content = der.decodeOne(encoded).value;
        assert.equal(content[0]! & 0x80, 0);
        if (content.length > 1 && content[0] === 0) assert.ok(content[1]! >= 0x80);
      }),
    );
  });

  test('reader refuses non-minimal, negative and empty integers', () => {
    assertDerError(() => der.readUnsignedInteger(der.decodeOne(bytesOf('02020001'))), /non-minimal/);
    assertDerError(() => der.readUnsignedInteger(der.decodeOne(bytesOf('0202ff80'))), /non-minimal/);
    assertDerError(() => der.readUnsignedInteger(der.decodeOne(bytesOf('020180'))), /negative/);
    assertDerError(() => der.readUnsignedInteger(der.decodeOne(bytesOf('0200'))), /empty/);
  });
});

describe('lengths', () => {
  test('short form below 128, minimal long form from 128 on', () => {
    assert.equal(hex(der.encodeLength(0)), '00');
    assert.equal(hex(der.encodeLength(127)), '7f');
    assert.equal(hex(der.encodeLength(128)), '8180');
    assert.equal(hex(der.encodeLength(255)), '81ff');
    assert.equal(hex(der.encodeLength(256)), '820100');
    assert.equal(hex(der.encodeLength(65535)), '82ffff');
    assert.equal(hex(der.encodeLength(65536)), '83010000');
  });

  for (const size of [127, 128, 200, 255, 256, 300, 70000]) {
    test(`an OCTET STRING of ${size} bytes round-trips with the right header`, () => {
      const content = Uint8Array.from({ length: size }, (_, i) => i % 251);
      const encoded = der.octetString(content);
      const t = der.decodeOne(encoded);
      assert.equal(t.length, size);
      assert.equal(t.headerLength, size < 128 ? 2 : size < 256 ? 3 : size < 65536 ? 4 : 5);
      assert.equal(hex(encoded.subarray(1, t.headerLength)), hex(der.encodeLength(size)));
      assert.equal(hex(der.readOctetString(t)), hex(content));
    });
  }
});

describe('round trips', () => {
  test('OIDs', () => {
    assert.equal(hex(der.oid('1.2.840.10045.2.1')), '06072a8648ce3d0201');
    assert.equal(hex(der.oid('2.5.4.3')), '0603550403');
    assert.equal(hex(der.oid('2.999.3')), '0603883703');
    const arcs = fc.tuple(
      fc.integer({ min: 0, max: 2 }),
      fc.integer({ min: 0, max: 39 }),
      fc.array(fc.bigInt({ min: 0n, max: 2n ** 70n }), { maxLength: 8 }),
    );
    fc.assert(
      fc.property(arcs, ([a, b, rest]) => {
        const dotted = [a, b, ...rest].join('.');
        assert.equal(der.readOid(der.decodeOne(der.oid(dotted))), dotted);
      }),
    );
    for (const bad of ['1', '3.1', '1.40', '1.2.03', '', '1..2', 'a.b']) {
      assertDerError(() => der.oid(bad));
    }
  });

  test('strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), (s) => {
        assert.equal(der.readString(der.decodeOne(der.utf8String(s))), s);
      }),
    );
    assert.equal(
      der.readString(der.decodeOne(der.printableString("Outpost (test) CA-1 ='+,./:?"))),
      "Outpost (test) CA-1 ='+,./:?",
    );
    assert.equal(der.readString(der.decodeOne(der.ia5String('spiffe://x/y?z'))), 'spiffe://x/y?z');
    assertDerError(() => der.printableString('a@b'));
    assertDerError(() => der.printableString('é'));
    assertDerError(() => der.ia5String('é'));
    assertDerError(() => der.utf8String('\ud800'));
    assertDerError(() => der.readString(der.decodeOne(bytesOf('0c02c328'))), /UTF-8/);
    assertDerError(() => der.readString(der.decodeOne(bytesOf('130140'))), /PrintableString/);
  });

  test('BOOLEAN, NULL, BIT STRING, OCTET STRING', () => {
    assert.equal(hex(der.boolean(true)), '0101ff');
    assert.equal(hex(der.boolean(false)), '010100');
    assert.equal(der.readBoolean(der.decodeOne(der.boolean(true))), true);
    assert.equal(der.readBoolean(der.decodeOne(der.boolean(false))), false);
    assertDerError(() => der.readBoolean(der.decodeOne(bytesOf('010101'))), /0x00 or 0xff/);
    assert.equal(hex(der.nullValue()), '0500');
    assert.equal(der.readNull(der.decodeOne(der.nullValue())), null);
    assertDerError(() => der.readNull(der.decodeOne(bytesOf('050100'))));
    const bits = der.readBitString(der.decodeOne(der.bitString(Uint8Array.of(1, 2, 0xf0), 4)));
    assert.equal(bits.unusedBits, 4);
    assert.deepEqual([...bits.bytes], [1, 2, 0xf0]);
    assertDerError(() => der.bitString(Uint8Array.of(0x01), 1), /zero/);
    assertDerError(() => der.readBitString(der.decodeOne(bytesOf('03020101'))), /not zero/);
    assertDerError(() => der.readBitString(der.decodeOne(bytesOf('030108'))));
    // KeyUsage digitalSignature, and keyCertSign|cRLSign, as OpenSSL encodes them
    assert.equal(hex(der.namedBits([0])), '03020780');
    assert.equal(hex(der.namedBits([5, 6])), '03020106');
    assert.equal(hex(der.namedBits([0, 8])), '0303078080');
  });

  test('SEQUENCE, SET (sorted), explicit and implicit tagging', () => {
    const seq = der.sequence(der.smallInteger(1), der.boolean(true), der.explicit(3, der.nullValue()));
    assert.equal(hex(seq), '300a020101' + '0101ff' + 'a3020500');
    const kids = der.children(der.decodeOne(seq));
    assert.equal(kids.length, 3);
    assert.equal(der.readSmallInteger(kids[0]!), 1);
    assert.equal(kids[2]!.tag, 0xa3);
    assert.equal(der.readNull(der.children(kids[2]!)[0]!), null);
    // DER SET OF: ascending order of encodings
    assert.equal(
      hex(der.set(der.smallInteger(5), der.smallInteger(3), der.boolean(true))),
      '31090101ff020103020105',
    );
    assert.equal(hex(der.implicit(0, der.octetString(Uint8Array.of(1, 2)))), '80020102');
    assert.equal(hex(der.implicit(1, der.sequence())), 'a100');
    assert.equal(hex(der.contextPrimitive(6, Uint8Array.of(0x61))), '860161');
  });
});

describe('times', () => {
  const utc = (s: string): Date => new Date(s);
  test('UTCTime up to 2049, GeneralizedTime from 2050 (RFC 5280)', () => {
    const enc = (d: Date): string => Buffer.from(der.time(d)).toString('latin1');
    assert.equal(enc(utc('2049-12-31T23:59:59.999Z')), '\x17\x0d491231235959Z');
    assert.equal(enc(utc('2050-01-01T00:00:00Z')), '\x18\x0f20500101000000Z');
    assert.equal(enc(utc('1950-01-01T00:00:00Z')), '\x17\x0d500101000000Z');
    assert.equal(enc(utc('1949-12-31T23:59:59Z')), '\x18\x0f19491231235959Z');
    assert.equal(enc(utc('2026-03-04T05:06:07Z')), '\x17\x0d260304050607Z');
    assertDerError(() => der.utcTime(utc('2050-01-01T00:00:00Z')));
    assertDerError(() => der.time(new Date(Number.NaN)));
  });

  test('decoding maps UTCTime years 50..99 to 19xx and 00..49 to 20xx', () => {
    const read = (tag: number, s: string): Date =>
      der.readTime(der.decodeOne(der.tlv(tag, Buffer.from(s, 'latin1'))));
    assert.equal(read(0x17, '491231235959Z').toISOString(), '2049-12-31T23:59:59.000Z');
    assert.equal(read(0x17, '500101000000Z').toISOString(), '1950-01-01T00:00:00.000Z');
    assert.equal(read(0x18, '20500101000000Z').toISOString(), '2050-01-01T00:00:00.000Z');
    assert.equal(read(0x18, '00010101000000Z').toISOString(), '0001-01-01T00:00:00.000Z');
    for (const bad of [
      '491231235959',
      '4912312359Z',
      '491331000000Z',
      '490230000000Z',
      '491231240000Z',
      '49123123596 Z',
    ]) {
      assertDerError(() => read(0x17, bad));
    }
    assertDerError(() => read(0x18, '20500101000000.5Z'));
    assertDerError(() => read(0x18, '20500101000000+0100'));
  });

  test('any date in 1950..9999 round-trips to the second', () => {
    const dates = fc.date({
      min: utc('1950-01-01T00:00:00Z'),
      max: utc('9999-12-31T23:59:59Z'),
      noInvalidDate: true,
    });
    fc.assert(
      fc.property(dates, (d) => {
        const back = der.readTime(der.decodeOne(der.time(d)));
        assert.equal(back.getTime(), Math.floor(d.getTime() / 1000) * 1000);
      }),
    );
  });
});

describe('the decoder refuses malformed input', () => {
  test('truncated input', () => {
    assertDerError(() => der.decodeOne(new Uint8Array(0)), /truncated/);
    assertDerError(() => der.decodeOne(bytesOf('30')), /truncated/);
    assertDerError(() => der.decodeOne(bytesOf('3082')), /truncated/);
    assertDerError(() => der.decodeOne(bytesOf('308201')), /truncated/);
    assertDerError(() => der.decodeOne(bytesOf('3005020101')), /past the end/);
  });

  test('every proper prefix of a valid encoding is refused', () => {
    const value = der.sequence(
      der.oid('1.2.840.10045.4.3.2'),
      der.octetString(new Uint8Array(300)),
      der.explicit(0, der.utf8String('x'.repeat(130))),
    );
    der.decodeTree(value);
    for (let n = 0; n < value.length; n++) assertDerError(() => der.decodeTree(value.subarray(0, n)));
  });

  test('indefinite, overlong and oversized lengths', () => {
    assertDerError(() => der.decodeOne(bytesOf('3080020101 0000')), /indefinite/);
    assertDerError(() => der.decodeOne(bytesOf(`048105${'00'.repeat(5)}`)), /non-minimal/);
    assertDerError(() => der.decodeOne(bytesOf(`04820080${'00'.repeat(128)}`)), /non-minimal/);
    assertDerError(() => der.decodeOne(bytesOf('0485ffffffffff')), /not supported/);
    assertDerError(() => der.decodeOne(bytesOf('0484ffffffff00')), /past the end/);
    assertDerError(() => der.decodeOne(bytesOf('04ff')), /not supported/);
  });

  test('length past the end of a parent, trailing bytes, high tags', () => {
    // child claims 5 bytes but its parent only holds 3
    assertDerError(() => der.decodeTree(bytesOf('3005 0405 000000')), /past the end/);
    assertDerError(() => der.decodeOne(bytesOf('050000')), /trailing/);
    assertDerError(() => der.decodeOne(bytesOf('1f0100')), /high-tag/);
    assertDerError(() => der.children(der.decodeOne(bytesOf('0400'))), /constructed/);
  });

  test('nesting is bounded', () => {
    let deep: Uint8Array = der.nullValue();
    for (let i = 0; i < 40; i++) deep = der.sequence(deep);
    assertDerError(() => der.decodeTree(deep, 32), /nesting/);
    assert.ok(der.decodeTree(deep, 64).children);
  });

  test('OIDs with non-minimal or truncated arcs', () => {
    assertDerError(() => der.readOid(der.decodeOne(bytesOf('0600'))), /empty/);
    assertDerError(() => der.readOid(der.decodeOne(bytesOf('06022a86'))), /truncated/);
    assertDerError(() => der.readOid(der.decodeOne(bytesOf('06032a8001'))), /non-minimal/);
  });
});

/** Runs every typed reader that applies to each node: only DerError may come out. */
function exercise(node: der.DerNode): void {
  const t = node.tlv;
  const attempts: Array<() => unknown> = [
    () => der.readUnsignedInteger(t),
    () => der.readSmallInteger(t),
    () => der.readOid(t),
    () => der.readBoolean(t),
    () => der.readNull(t),
    () => der.readBitString(t),
    () => der.readOctetString(t),
    () => der.readString(t),
    () => der.readTime(t),
  ];
  for (const attempt of attempts) {
    try {
      attempt();
    } catch (err) {
      if (!(err instanceof der.DerError)) throw err;
    }
  }
  for (const child of node.children ?? []) exercise(child);
}

function decodeOrDerError(bytes: Uint8Array): void {
  let tree: der.DerNode;
  try {
    tree = der.decodeTree(bytes);
  } catch (err) {
    if (err instanceof der.DerError) return;
    throw err;
  }
  exercise(tree);
}

describe('fuzzing: only DerError, never a hang', () => {
  test('random bytes', { timeout: 60_000 }, () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), decodeOrDerError), { numRuns: 5000 });
  });

  test('random bytes that start like a SEQUENCE with a long-form length', { timeout: 60_000 }, () => {
    const arb = fc
      .tuple(
        fc.constantFrom(0x30, 0x31, 0xa0, 0xa3),
        fc.integer({ min: 0x80, max: 0xff }),
        fc.uint8Array({ maxLength: 300 }),
      )
      .map(([tag, len, rest]) => Uint8Array.of(tag, len, ...rest));
    fc.assert(fc.property(arb, decodeOrDerError), { numRuns: 3000 });
  });

  test('mutations of a valid nested encoding', { timeout: 60_000 }, () => {
    const valid = der.sequence(
      der.sequence(der.explicit(0, der.smallInteger(2)), der.integer(Uint8Array.of(0x80, 1, 2))),
      der.set(der.sequence(der.oid('2.5.4.3'), der.utf8String('site-1'))),
      der.sequence(
        der.utcTime(new Date('2030-01-01T00:00:00Z')),
        der.generalizedTime(new Date('2060-01-01T00:00:00Z')),
      ),
      der.bitString(Uint8Array.of(4, 1, 2, 3)),
      der.boolean(true),
      der.nullValue(),
      der.octetString(new Uint8Array(200)),
    );
    const mutation = fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), {
      minLength: 1,
      maxLength: 4,
    });
    fc.assert(
      fc.property(mutation, fc.nat(valid.length), (changes, cut) => {
        const bytes = Uint8Array.from(valid);
        for (const [at, value] of changes) bytes[at] = value;
        decodeOrDerError(bytes);
        decodeOrDerError(bytes.subarray(0, cut));
      }),
      { numRuns: 5000 },
    );
  });
});
