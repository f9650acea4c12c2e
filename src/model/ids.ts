// Identifiers that sort by creation time (UUIDv7 layout: 48-bit milliseconds, then randomness), so
// lists ordered by id are ordered by time on every database without an identity column.

/** A UUIDv7 string; `now` and `random` are passed in so callers and tests control them. */
export function timeOrderedId(now: number, random: (n: number) => Uint8Array): string {
  const bytes = random(16);
  let ms = now;
  for (let i = 5; i >= 0; i--) {
    bytes[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
