// The record framing of the telemetry buffer's segment files: per record a 16-byte header (magic,
// payload length, index in the segment, CRC32 of index and payload) and the JSON payload. The magic lets
// a reader find the next good record after damage; the index tells it how many records the damage took.

import { crc32 } from 'node:zlib';

const magic = 0x4f545231; // "OTR1"
export const recordHeaderBytes = 16;
/** no record is bigger; a length above it is damage, not data */
export const maxRecordBytes = 1024 * 1024;

export function encodeRecord(index: number, payload: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(recordHeaderBytes + payload.length);
  frame.writeUInt32BE(magic, 0);
  frame.writeUInt32BE(payload.length, 4);
  frame.writeUInt32BE(index, 8);
  payload.copy(frame, recordHeaderBytes);
  frame.writeUInt32BE(crc32(payload, crc32(frame.subarray(8, 12))), 12);
  return frame;
}

export interface DecodedSegment {
  records: Array<{ index: number; payload: Buffer }>;
  /** bytes that belong to no valid record, anywhere in the file */
  damagedBytes: number;
  /** where the last valid record ends: what follows is an incomplete or damaged tail */
  validEnd: number;
}

/** Every valid record in `data`, skipping damaged stretches by searching for the next good header. */
export function decodeSegment(data: Buffer): DecodedSegment {
  const records: DecodedSegment['records'] = [];
  let pos = 0;
  let damagedBytes = 0;
  let validEnd = 0;
  while (pos < data.length) {
    if (pos + recordHeaderBytes <= data.length && data.readUInt32BE(pos) === magic) {
      const length = data.readUInt32BE(pos + 4);
      const end = pos + recordHeaderBytes + length;
      if (length <= maxRecordBytes && end <= data.length) {
        const payload = data.subarray(pos + recordHeaderBytes, end);
        const crc = crc32(payload, crc32(data.subarray(pos + 8, pos + 12)));
        if (crc === data.readUInt32BE(pos + 12)) {
          records.push({ index: data.readUInt32BE(pos + 8), payload });
          pos = end;
          validEnd = end;
          continue;
        }
      }
    }
    damagedBytes++;
    pos++;
  }
  return { records, damagedBytes, validEnd };
}
