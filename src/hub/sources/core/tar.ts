// Reads a tar archive (POSIX ustar with pax or GNU long-name records, as Go's archive/tar and GNU tar
// write them) into its regular files, in memory and within limits. Pure: no file is written, so a
// hostile archive (../ paths, links, endless entries) can only be refused, never escape.

export interface TarFile {
  /** relative, normalized, '/'-separated */
  path: string;
  /** whether any execute bit is set */
  executable: boolean;
  data: Uint8Array;
}

export interface TarLimits {
  maxFiles: number;
  /** total bytes of the files' contents */
  maxBytes: number;
}

export class TarError extends Error {
  override name = 'TarError';
}

const block = 512;
const decoder = new TextDecoder();

function text(buf: Uint8Array, start: number, length: number): string {
  const field = buf.subarray(start, start + length);
  const nul = field.indexOf(0);
  return decoder.decode(nul < 0 ? field : field.subarray(0, nul));
}

/** Octal (NUL or space terminated), or GNU base-256 when the first byte's high bit is set. */
function number(buf: Uint8Array, start: number, length: number): number {
  const field = buf.subarray(start, start + length);
  if (field[0]! & 0x80) {
    let n = field[0]! & 0x7f;
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i]!;
    return n;
  }
  const digits = text(buf, start, length).trim();
  if (digits === '') return 0;
  if (!/^[0-7]+$/.test(digits)) throw new TarError(`not a tar archive (bad number field "${digits}")`);
  return Number.parseInt(digits, 8);
}

function checksumOk(header: Uint8Array): boolean {
  const stored = number(header, 148, 8);
  let sum = 0;
  for (let i = 0; i < block; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
  return sum === stored;
}

/** pax extended header records: "LEN key=value\n" */
function paxRecords(data: Uint8Array): Map<string, string> {
  const out = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space < 0) break;
    const length = Number.parseInt(decoder.decode(data.subarray(at, space)), 10);
    if (!Number.isFinite(length) || length <= 0 || at + length > data.length) {
      throw new TarError('not a tar archive (bad pax record)');
    }
    const record = decoder.decode(data.subarray(space + 1, at + length - 1));
    const eq = record.indexOf('=');
    if (eq > 0) out.set(record.slice(0, eq), record.slice(eq + 1));
    at += length;
  }
  return out;
}

/** A safe relative path, or undefined for the archive's root itself ('.', './'). */
function normalize(raw: string): string | undefined {
  if (raw.startsWith('/')) throw new TarError(`${raw}: an absolute path`);
  const parts: string[] = [];
  for (const part of raw.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') throw new TarError(`${raw}: a path that leaves the archive (..)`);
    parts.push(part);
  }
  return parts.length === 0 ? undefined : parts.join('/');
}

/**
 * The regular files of an uncompressed tar archive. Directories are implied by paths; symbolic and
 * hard links, devices and FIFOs are refused, since what they point at is not in the archive.
 * @example readTar(gunzipSync(layer), { maxFiles: 10_000, maxBytes: 64 << 20 })
 */
export function readTar(archive: Uint8Array, limits: TarLimits): TarFile[] {
  const files: TarFile[] = [];
  const seen = new Set<string>();
  let total = 0;
  let at = 0;
  let longName: string | undefined;
  let pax = new Map<string, string>();
  let globalPax = new Map<string, string>();
  while (at + block <= archive.length) {
    const header = archive.subarray(at, at + block);
    if (header.every((b) => b === 0)) break;
    if (!checksumOk(header)) throw new TarError('not a tar archive (header checksum mismatch)');
    const type = String.fromCharCode(header[156]!);
    const paxSize = pax.get('size') ?? globalPax.get('size');
    const size = paxSize !== undefined ? Number(paxSize) : number(header, 124, 12);
    const start = at + block;
    const end = start + size;
    if (!Number.isSafeInteger(size) || size < 0 || end > archive.length) {
      throw new TarError('the archive is truncated');
    }
    at = start + Math.ceil(size / block) * block;
    const data = archive.subarray(start, end);
    if (type === 'x') {
      pax = paxRecords(data);
      continue;
    }
    if (type === 'g') {
      globalPax = paxRecords(data);
      continue;
    }
    if (type === 'L') {
      longName = text(data, 0, data.length);
      continue;
    }
    if (type === 'K') continue; // a long link name, for a link refused below
    const ustar = text(header, 257, 6) === 'ustar';
    const prefix = ustar ? text(header, 345, 155) : '';
    const headerName = prefix ? `${prefix}/${text(header, 0, 100)}` : text(header, 0, 100);
    const raw = pax.get('path') ?? longName ?? globalPax.get('path') ?? headerName;
    pax = new Map();
    longName = undefined;
    const path = normalize(raw);
    if (type === '5') continue;
    if (type !== '0' && type !== '\0' && type !== '7') {
      const what =
        type === '2' ? 'a symbolic link' : type === '1' ? 'a hard link' : `an entry of type ${type}`;
      throw new TarError(`${raw}: ${what}; the archive must hold plain files`);
    }
    if (path === undefined) throw new TarError(`${raw}: a file without a name`);
    if (seen.has(path)) throw new TarError(`${path}: appears twice in the archive`);
    seen.add(path);
    total += size;
    if (files.length + 1 > limits.maxFiles) {
      throw new TarError(`more than ${limits.maxFiles} files in the archive`);
    }
    if (total > limits.maxBytes) {
      throw new TarError(`the archive's files exceed ${limits.maxBytes} bytes`);
    }
    const mode = number(header, 100, 8);
    files.push({ path, executable: (mode & 0o111) !== 0, data: data.slice() });
  }
  return files;
}
