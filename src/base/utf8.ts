// Cutting text by its size in UTF-8 bytes (the unit of byte limits on the wire) without ever splitting a
// character: log uploads are chunked and capped this way on both sides.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `text` cut to at most `max` bytes, in pieces of at most `size` bytes, each ending on a character. */
export function utf8Chunks(text: string, max: number, size: number): string[] {
  const bytes = encoder.encode(text);
  const limit = Math.min(Math.max(0, max), bytes.length);
  const out: string[] = [];
  let start = 0;
  while (start < limit) {
    let end = Math.min(start + size, limit);
    // back off continuation bytes (10xxxxxx) so a character is never split; one cut by the limit is
    // dropped whole
    while (end > start && (bytes[end] ?? 0) >> 6 === 0b10) end--;
    if (end === start) break;
    out.push(decoder.decode(bytes.subarray(start, end)));
    start = end;
  }
  return out;
}

/** The longest start of `text` that fits in `max` UTF-8 bytes. */
export function utf8Prefix(text: string, max: number): string {
  return utf8Chunks(text, max, Number.MAX_SAFE_INTEGER).join('');
}
