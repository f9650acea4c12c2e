// Minimal DER (X.690) encoder and a bounds-checked TLV decoder, just enough for X.509 certificates and PKCS#10.
// Single-byte tags and definite lengths only; the decoder throws DerError and nothing else on any malformed input.

export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DerError';
  }
}

/** Identifier octets (class | constructed | number) of the universal types we use. */
export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

const CONTEXT = 0x80;
const CONSTRUCTED = 0x20;

// ---------------------------------------------------------------------------------------------------------------
// Encoding. Every function returns a complete TLV; the results must not be mutated (OID encodings are cached).

function checkTag(tag: number): void {
  if (!Number.isInteger(tag) || tag < 0 || tag > 0xff || (tag & 0x1f) === 0x1f) {
    throw new DerError(`unsupported tag ${tag} (only single-byte tags are supported)`);
  }
}

/** The length octets for a value of `length` bytes (short form below 128, else minimal long form). */
export function encodeLength(length: number): Uint8Array {
  if (!Number.isSafeInteger(length) || length < 0 || length > 0xffffffff) {
    throw new DerError(`cannot encode length ${length}`);
  }
  if (length < 0x80) return Uint8Array.of(length);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

/** One TLV with identifier octet `tag` whose value is the concatenation of `contents`. */
export function tlv(tag: number, ...contents: Uint8Array[]): Uint8Array {
  checkTag(tag);
  let length = 0;
  for (const c of contents) length += c.length;
  const lengthOctets = encodeLength(length);
  const out = Buffer.allocUnsafe(1 + lengthOctets.length + length);
  out[0] = tag;
  out.set(lengthOctets, 1);
  let pos = 1 + lengthOctets.length;
  for (const c of contents) {
    out.set(c, pos);
    pos += c.length;
  }
  return out;
}

export function sequence(...items: Uint8Array[]): Uint8Array {
  return tlv(Tag.SEQUENCE, ...items);
}

/** X.690 11.6 ordering: encodings compared as octet strings, the shorter padded with trailing zero octets. */
function compareSetMembers(a: Uint8Array, b: Uint8Array): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** SET OF: members are sorted as DER requires. */
export function set(...items: Uint8Array[]): Uint8Array {
  return tlv(Tag.SET, ...[...items].sort(compareSetMembers));
}

/**
 * INTEGER from an unsigned big-endian magnitude: leading zero bytes are dropped and a 0x00 sign byte is added
 * when the top bit is set, so the result is the minimal encoding of a non-negative number. Empty means 0.
 */
export function integer(magnitude: Uint8Array): Uint8Array {
  let start = 0;
  while (start < magnitude.length && magnitude[start] === 0) start++;
  const body = magnitude.subarray(start);
  if (body.length === 0) return Uint8Array.of(Tag.INTEGER, 1, 0);
  if ((body[0]! & 0x80) !== 0) return tlv(Tag.INTEGER, Uint8Array.of(0), body);
  return tlv(Tag.INTEGER, body);
}

/** INTEGER from a non-negative safe integer. */
export function smallInteger(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new DerError(`not a non-negative safe integer: ${n}`);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return integer(Uint8Array.from(bytes));
}

function base128(n: bigint, out: number[]): void {
  const groups = [Number(n & 0x7fn)];
  for (let v = n >> 7n; v > 0n; v >>= 7n) groups.unshift(Number(v & 0x7fn) | 0x80);
  out.push(...groups);
}

const oidCache = new Map<string, Uint8Array>();

/** OBJECT IDENTIFIER from dotted decimal ("1.2.840.10045.2.1"). */
export function oid(dotted: string): Uint8Array {
  const cached = oidCache.get(dotted);
  if (cached !== undefined) return cached;
  if (!/^(0|[1-9]\d*)(\.(0|[1-9]\d*))+$/.test(dotted)) throw new DerError(`malformed OID "${dotted}"`);
  const arcs = dotted.split('.').map((a) => BigInt(a));
  const first = arcs[0]!;
  const second = arcs[1]!;
  if (first > 2n || (first < 2n && second >= 40n)) throw new DerError(`invalid OID "${dotted}"`);
  const body: number[] = [];
  base128(first * 40n + second, body);
  for (const arc of arcs.slice(2)) base128(arc, body);
  const out = tlv(Tag.OID, Uint8Array.from(body));
  if (oidCache.size < 1024) oidCache.set(dotted, out);
  return out;
}

export function nullValue(): Uint8Array {
  return Uint8Array.of(Tag.NULL, 0);
}

export function boolean(value: boolean): Uint8Array {
  return Uint8Array.of(Tag.BOOLEAN, 1, value ? 0xff : 0x00);
}

/** BIT STRING; DER requires the unused trailing bits to be zero, and refuses unused bits on an empty string. */
export function bitString(bytes: Uint8Array, unusedBits = 0): Uint8Array {
  if (!Number.isInteger(unusedBits) || unusedBits < 0 || unusedBits > 7) {
    throw new DerError(`unused bits must be 0..7, got ${unusedBits}`);
  }
  if (bytes.length === 0 && unusedBits !== 0) throw new DerError('an empty BIT STRING has no unused bits');
  if (bytes.length > 0 && (bytes[bytes.length - 1]! & ((1 << unusedBits) - 1)) !== 0) {
    throw new DerError('unused bits of a BIT STRING must be zero in DER');
  }
  return tlv(Tag.BIT_STRING, Uint8Array.of(unusedBits), bytes);
}

/**
 * BIT STRING for a NamedBitList (e.g. KeyUsage): bit 0 is the most significant bit of the first byte, and
 * trailing zero bits are removed as DER requires.
 */
export function namedBits(bits: readonly number[]): Uint8Array {
  if (bits.length === 0) return bitString(new Uint8Array(0));
  let highest = 0;
  for (const bit of bits) {
    if (!Number.isInteger(bit) || bit < 0 || bit > 255) throw new DerError(`bad named bit ${bit}`);
    highest = Math.max(highest, bit);
  }
  const bytes = new Uint8Array((highest >> 3) + 1);
  for (const bit of bits) bytes[bit >> 3]! |= 0x80 >> (bit & 7);
  return bitString(bytes, 7 - (highest & 7));
}

export function octetString(bytes: Uint8Array): Uint8Array {
  return tlv(Tag.OCTET_STRING, bytes);
}

export function utf8String(value: string): Uint8Array {
  if (!value.isWellFormed()) throw new DerError('string has lone surrogates');
  return tlv(Tag.UTF8_STRING, Buffer.from(value, 'utf8'));
}

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

export function printableString(value: string): Uint8Array {
  if (!PRINTABLE.test(value)) throw new DerError('string has characters outside PrintableString');
  return tlv(Tag.PRINTABLE_STRING, Buffer.from(value, 'latin1'));
}

const IA5 = /^\p{ASCII}*$/u;

export function ia5String(value: string): Uint8Array {
  if (!IA5.test(value)) throw new DerError('string has characters outside IA5String (ASCII)');
  return tlv(Tag.IA5_STRING, Buffer.from(value, 'latin1'));
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

function checkDate(date: Date): void {
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) throw new DerError('invalid date');
}

/** UTCTime "YYMMDDHHMMSSZ" (years 1950..2049); milliseconds are dropped. */
export function utcTime(date: Date): Uint8Array {
  checkDate(date);
  const year = date.getUTCFullYear();
  if (year < 1950 || year > 2049) throw new DerError(`UTCTime cannot hold year ${year}`);
  return tlv(Tag.UTC_TIME, Buffer.from(pad(year % 100, 2) + timeOfYear(date), 'latin1'));
}

/** GeneralizedTime "YYYYMMDDHHMMSSZ" (years 0..9999); milliseconds are dropped. */
export function generalizedTime(date: Date): Uint8Array {
  checkDate(date);
  const year = date.getUTCFullYear();
  if (year < 0 || year > 9999) throw new DerError(`GeneralizedTime cannot hold year ${year}`);
  return tlv(Tag.GENERALIZED_TIME, Buffer.from(pad(year, 4) + timeOfYear(date), 'latin1'));
}

function timeOfYear(date: Date): string {
  return (
    pad(date.getUTCMonth() + 1, 2) +
    pad(date.getUTCDate(), 2) +
    pad(date.getUTCHours(), 2) +
    pad(date.getUTCMinutes(), 2) +
    pad(date.getUTCSeconds(), 2) +
    'Z'
  );
}

/** RFC 5280 Time: UTCTime for 1950..2049, GeneralizedTime otherwise. */
export function time(date: Date): Uint8Array {
  checkDate(date);
  const year = date.getUTCFullYear();
  return year >= 1950 && year < 2050 ? utcTime(date) : generalizedTime(date);
}

function checkContextNumber(n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > 30)
    throw new DerError(`context tag number must be 0..30, got ${n}`);
}

/** [n] EXPLICIT: a constructed context-specific TLV wrapping the given encodings. */
export function explicit(n: number, ...inner: Uint8Array[]): Uint8Array {
  checkContextNumber(n);
  return tlv(CONTEXT | CONSTRUCTED | n, ...inner);
}

/** [n] IMPLICIT: the given TLV re-tagged as context-specific n, keeping its constructed bit. */
export function implicit(n: number, encoded: Uint8Array): Uint8Array {
  checkContextNumber(n);
  const inner = readTlv(encoded);
  if (inner.end !== encoded.length) throw new DerError('implicit() takes exactly one TLV');
  const out = Uint8Array.from(encoded);
  out[0] = CONTEXT | (encoded[0]! & CONSTRUCTED) | n;
  return out;
}

/** A primitive [n] IMPLICIT value from raw content bytes (e.g. GeneralName dNSName, keyIdentifier). */
export function contextPrimitive(n: number, content: Uint8Array): Uint8Array {
  checkContextNumber(n);
  return tlv(CONTEXT | n, content);
}

// ---------------------------------------------------------------------------------------------------------------
// Decoding. Offsets are relative to the buffer given; values are views into it (no copies).

export interface Tlv {
  /** Identifier octet: class (bits 8-7) | constructed (bit 6) | tag number (bits 5-1). */
  readonly tag: number;
  readonly constructed: boolean;
  readonly headerLength: number;
  /** Length of the value in bytes. */
  readonly length: number;
  /** Offset of the identifier octet. */
  readonly start: number;
  /** Offset just past the value. */
  readonly end: number;
  readonly value: Uint8Array;
  /** The whole TLV, header included. */
  readonly encoded: Uint8Array;
}

/**
 * Reads one TLV at `offset`, never looking at bytes at or past `limit`. Refuses high tag numbers, indefinite
 * lengths, non-minimal ("overlong") lengths, lengths over 4 octets, and values that run past `limit`.
 */
export function readTlv(buf: Uint8Array, offset = 0, limit = buf.length): Tlv {
  if (
    !Number.isInteger(offset) ||
    !Number.isInteger(limit) ||
    offset < 0 ||
    limit > buf.length ||
    offset > limit
  ) {
    throw new DerError('bad read bounds');
  }
  if (offset >= limit) throw new DerError('truncated: expected a tag');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('high-tag-number form is not supported');
  if (offset + 1 >= limit) throw new DerError('truncated: expected a length');
  const first = buf[offset + 1]!;
  let length: number;
  let headerLength: number;
  if (first < 0x80) {
    length = first;
    headerLength = 2;
  } else if (first === 0x80) {
    throw new DerError('indefinite length is not allowed in DER');
  } else {
    const count = first & 0x7f;
    if (count > 4) throw new DerError(`length of ${count} octets is not supported`);
    if (count > limit - offset - 2) throw new DerError('truncated: length octets run past the end');
    if (buf[offset + 2] === 0) throw new DerError('non-minimal length encoding (leading zero octet)');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + buf[offset + 2 + i]!;
    if (length < 0x80) throw new DerError('non-minimal length encoding (long form for a short length)');
    headerLength = 2 + count;
  }
  const valueStart = offset + headerLength;
  if (length > limit - valueStart) throw new DerError('length runs past the end of the input');
  const end = valueStart + length;
  return {
    tag,
    constructed: (tag & CONSTRUCTED) !== 0,
    headerLength,
    length,
    start: offset,
    end,
    value: buf.subarray(valueStart, end),
    encoded: buf.subarray(offset, end),
  };
}

/** All consecutive TLVs that exactly fill `buf`. */
export function readAll(buf: Uint8Array): Tlv[] {
  const out: Tlv[] = [];
  for (let pos = 0; pos < buf.length; ) {
    const t = readTlv(buf, pos);
    out.push(t);
    pos = t.end;
  }
  return out;
}

/** Exactly one TLV spanning all of `buf` (no trailing bytes). */
export function decodeOne(buf: Uint8Array): Tlv {
  const t = readTlv(buf, 0);
  if (t.end !== buf.length) throw new DerError(`${buf.length - t.end} trailing bytes after the DER value`);
  return t;
}

/** The children of a constructed TLV. */
export function children(parent: Tlv): Tlv[] {
  if (!parent.constructed) throw new DerError('expected a constructed value');
  return readAll(parent.value);
}

export interface DerNode {
  readonly tlv: Tlv;
  /** Present for constructed values. */
  readonly children?: DerNode[];
}

/** A whole tree of TLVs, recursing into constructed values up to `maxDepth` levels. */
export function decodeTree(buf: Uint8Array, maxDepth = 32): DerNode {
  const walk = (t: Tlv, depth: number): DerNode => {
    if (!t.constructed) return { tlv: t };
    if (depth >= maxDepth) throw new DerError(`nesting deeper than ${maxDepth}`);
    return { tlv: t, children: readAll(t.value).map((c) => walk(c, depth + 1)) };
  };
  return walk(decodeOne(buf), 0);
}

// Typed readers -------------------------------------------------------------------------------------------------

export function expectTag(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (t === undefined) throw new DerError(`missing ${what}`);
  if (t.tag !== tag) {
    throw new DerError(`expected ${what} (tag 0x${hexByte(tag)}), found tag 0x${hexByte(t.tag)}`);
  }
  return t;
}

function hexByte(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** Non-negative INTEGER as its big-endian magnitude (minimal, without the sign byte; 0 is [0x00]). */
export function readUnsignedInteger(t: Tlv): Uint8Array {
  expectTag(t, Tag.INTEGER, 'INTEGER');
  const v = t.value;
  if (v.length === 0) throw new DerError('empty INTEGER');
  if (v.length > 1 && ((v[0] === 0x00 && v[1]! < 0x80) || (v[0] === 0xff && v[1]! >= 0x80))) {
    throw new DerError('non-minimal INTEGER encoding');
  }
  if ((v[0]! & 0x80) !== 0) throw new DerError('negative INTEGER');
  return v.length > 1 && v[0] === 0 ? v.subarray(1) : v;
}

/** Non-negative INTEGER that fits a safe integer. */
export function readSmallInteger(t: Tlv): number {
  const magnitude = readUnsignedInteger(t);
  if (magnitude.length > 6) throw new DerError('INTEGER too large');
  let n = 0;
  for (const b of magnitude) n = n * 256 + b;
  return n;
}

export function readOid(t: Tlv): string {
  expectTag(t, Tag.OID, 'OBJECT IDENTIFIER');
  const v = t.value;
  if (v.length === 0) throw new DerError('empty OBJECT IDENTIFIER');
  if ((v[v.length - 1]! & 0x80) !== 0) throw new DerError('truncated OBJECT IDENTIFIER');
  const arcs: bigint[] = [];
  let current = 0n;
  let startOfArc = true;
  for (const b of v) {
    if (startOfArc && b === 0x80) throw new DerError('non-minimal OBJECT IDENTIFIER arc');
    current = (current << 7n) | BigInt(b & 0x7f);
    startOfArc = (b & 0x80) === 0;
    if (startOfArc) {
      arcs.push(current);
      current = 0n;
    }
  }
  const first = arcs[0]!;
  const head = first < 40n ? [0n, first] : first < 80n ? [1n, first - 40n] : [2n, first - 80n];
  return [...head, ...arcs.slice(1)].join('.');
}

export function readBoolean(t: Tlv): boolean {
  expectTag(t, Tag.BOOLEAN, 'BOOLEAN');
  if (t.length !== 1) throw new DerError('BOOLEAN must be one octet');
  if (t.value[0] === 0xff) return true;
  if (t.value[0] === 0x00) return false;
  throw new DerError('BOOLEAN must be 0x00 or 0xff in DER');
}

export function readNull(t: Tlv): null {
  expectTag(t, Tag.NULL, 'NULL');
  if (t.length !== 0) throw new DerError('NULL must be empty');
  return null;
}

export function readOctetString(t: Tlv): Uint8Array {
  return expectTag(t, Tag.OCTET_STRING, 'OCTET STRING').value;
}

export interface BitString {
  readonly unusedBits: number;
  readonly bytes: Uint8Array;
}

export function readBitString(t: Tlv): BitString {
  expectTag(t, Tag.BIT_STRING, 'BIT STRING');
  const v = t.value;
  if (v.length === 0) throw new DerError('BIT STRING has no unused-bits octet');
  const unusedBits = v[0]!;
  if (unusedBits > 7) throw new DerError('BIT STRING unused bits over 7');
  const bytes = v.subarray(1);
  if (bytes.length === 0 && unusedBits !== 0) throw new DerError('empty BIT STRING with unused bits');
  if (bytes.length > 0 && (bytes[bytes.length - 1]! & ((1 << unusedBits) - 1)) !== 0) {
    throw new DerError('BIT STRING unused bits are not zero');
  }
  return { unusedBits, bytes };
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** UTF8String, PrintableString or IA5String as a JavaScript string (validated for its type). */
export function readString(t: Tlv): string {
  switch (t.tag) {
    case Tag.UTF8_STRING:
      try {
        return utf8Decoder.decode(t.value);
      } catch {
        throw new DerError('UTF8String is not valid UTF-8');
      }
    case Tag.PRINTABLE_STRING: {
      const s = Buffer.from(t.value).toString('latin1');
      if (!PRINTABLE.test(s)) throw new DerError('PrintableString has characters outside its set');
      return s;
    }
    case Tag.IA5_STRING: {
      const s = Buffer.from(t.value).toString('latin1');
      if (!IA5.test(s)) throw new DerError('IA5String has non-ASCII characters');
      return s;
    }
    default:
      throw new DerError(`unsupported string type (tag 0x${hexByte(t.tag)})`);
  }
}

/** UTCTime "YYMMDDHHMMSSZ" or GeneralizedTime "YYYYMMDDHHMMSSZ", the only forms RFC 5280 allows. */
export function readTime(t: Tlv): Date {
  let s: string;
  let year: number;
  if (t.tag === Tag.UTC_TIME) {
    s = Buffer.from(t.value).toString('latin1');
    if (!/^\d{12}Z$/.test(s)) throw new DerError('UTCTime must be YYMMDDHHMMSSZ');
    const yy = Number(s.slice(0, 2));
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
    s = s.slice(2);
  } else if (t.tag === Tag.GENERALIZED_TIME) {
    s = Buffer.from(t.value).toString('latin1');
    if (!/^\d{14}Z$/.test(s)) throw new DerError('GeneralizedTime must be YYYYMMDDHHMMSSZ');
    year = Number(s.slice(0, 4));
    s = s.slice(4);
  } else {
    throw new DerError(`expected UTCTime or GeneralizedTime, found tag 0x${hexByte(t.tag)}`);
  }
  const [month, day, hour, minute, second] = [0, 2, 4, 6, 8].map((i) => Number(s.slice(i, i + 2))) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, 0);
  if (
    d.getUTCFullYear() !== year ||
    d.getUTCMonth() !== month - 1 ||
    d.getUTCDate() !== day ||
    d.getUTCHours() !== hour ||
    d.getUTCMinutes() !== minute ||
    d.getUTCSeconds() !== second
  ) {
    throw new DerError('time has out-of-range fields');
  }
  return d;
}
