// Snappy block compression (the format Prometheus remote-write requires), pure: a greedy LZ77 over 64 KiB
// blocks with a 4-byte hash, emitting literals and 1- or 2-byte-offset copies. Decompression (for tests
// and any reader) follows the same format description: github.com/google/snappy/blob/main/format_description.txt.

const blockSize = 65_536;
const hashBits = 14;

function pushVarint(out: number[], n: number): void {
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
}

function pushLiteral(out: number[], src: Uint8Array, from: number, to: number): void {
  const len = to - from;
  if (len <= 0) return;
  const n = len - 1;
  if (n < 60) out.push(n << 2);
  else if (n < 0x100) out.push(60 << 2, n);
  else if (n < 0x10000) out.push(61 << 2, n & 0xff, n >> 8);
  else out.push(62 << 2, n & 0xff, (n >> 8) & 0xff, n >> 16);
  for (let i = from; i < to; i++) out.push(src[i]!);
}

function pushCopy(out: number[], offset: number, len: number): void {
  while (len > 0) {
    // keep at least 4 for a last 1-byte-offset copy; copies of 1..64 use the 2-byte offset form
    const n = len > 64 ? (len - 64 < 4 ? 60 : 64) : len;
    if (n >= 4 && n <= 11 && offset < 2048) {
      out.push(((offset >> 8) << 5) | ((n - 4) << 2) | 1, offset & 0xff);
    } else {
      out.push(((n - 1) << 2) | 2, offset & 0xff, offset >> 8);
    }
    len -= n;
  }
}

const hash4 = (src: Uint8Array, i: number) =>
  Math.imul(src[i]! | (src[i + 1]! << 8) | (src[i + 2]! << 16) | (src[i + 3]! << 24), 0x1e35a7bd) >>>
  (32 - hashBits);

/**
 * Compresses `src` into one snappy block.
 *
 * @example
 * snappyDecompress(snappyCompress(new TextEncoder().encode('abcabcabcabc'))); // the same bytes back
 */
export function snappyCompress(src: Uint8Array): Uint8Array {
  const out: number[] = [];
  pushVarint(out, src.length);
  const table = new Int32Array(1 << hashBits);
  for (let block = 0; block < src.length; block += blockSize) {
    const end = Math.min(src.length, block + blockSize);
    table.fill(-1);
    let literalFrom = block;
    let i = block;
    while (i + 4 <= end) {
      const h = hash4(src, i);
      const candidate = table[h]!;
      table[h] = i;
      if (
        candidate >= block &&
        src[candidate] === src[i] &&
        src[candidate + 1] === src[i + 1] &&
        src[candidate + 2] === src[i + 2] &&
        src[candidate + 3] === src[i + 3]
      ) {
        pushLiteral(out, src, literalFrom, i);
        let len = 4;
        while (i + len < end && src[candidate + len] === src[i + len]) len++;
        pushCopy(out, i - candidate, len);
        i += len;
        literalFrom = i;
      } else {
        i++;
      }
    }
    pushLiteral(out, src, literalFrom, end);
  }
  return Uint8Array.from(out);
}

/** Decompresses one snappy block; throws on a malformed one. */
export function snappyDecompress(src: Uint8Array): Uint8Array {
  let pos = 0;
  let length = 0;
  for (let shift = 1; ; shift *= 128) {
    const b = src[pos++];
    if (b === undefined) throw new Error('snappy: truncated length');
    length += (b & 0x7f) * shift;
    if (b < 0x80) break;
  }
  const out = new Uint8Array(length);
  let o = 0;
  while (pos < src.length) {
    const tag = src[pos++]!;
    if ((tag & 3) === 0) {
      let n = tag >> 2;
      if (n >= 60) {
        const bytes = n - 59;
        n = 0;
        for (let k = 0; k < bytes; k++) n |= src[pos++]! << (8 * k);
      }
      n += 1;
      if (pos + n > src.length || o + n > length) throw new Error('snappy: literal overruns');
      out.set(src.subarray(pos, pos + n), o);
      pos += n;
      o += n;
      continue;
    }
    let len: number;
    let offset: number;
    if ((tag & 3) === 1) {
      len = ((tag >> 2) & 7) + 4;
      offset = ((tag >> 5) << 8) | src[pos++]!;
    } else if ((tag & 3) === 2) {
      len = (tag >> 2) + 1;
      offset = src[pos]! | (src[pos + 1]! << 8);
      pos += 2;
    } else {
      len = (tag >> 2) + 1;
      offset = (src[pos]! | (src[pos + 1]! << 8) | (src[pos + 2]! << 16) | (src[pos + 3]! << 24)) >>> 0;
      pos += 4;
    }
    if (offset === 0 || offset > o || o + len > length) throw new Error('snappy: bad copy');
    for (let k = 0; k < len; k++, o++) out[o] = out[o - offset]!;
  }
  if (o !== length) throw new Error('snappy: length mismatch');
  return out;
}
