// Unique, self-describing put values with fixed-width ASCII fields, so a watcher can read them back
// without parsing text:  "es1 <run:8> <writer:4> <seq:12> <due ms:17> " then '.' padding.
//   offset 0 "es1 ", 4 run id, 13 writer, 18 sequence, 31 due time (ms since epoch, 3 decimals)
import { VALUE_HEADER } from '../schema/load.js';

export { VALUE_HEADER };

export interface ValueInfo {
  writer: number;
  seq: number;
  /** scheduled instant, ms since the epoch */
  due: number;
}

const MAGIC = [0x65, 0x73, 0x31, 0x20]; // "es1 "

/** writes `v` as `width` decimal digits, zero-padded, at `pos` (the lowest `width` digits of larger values) */
function putDigits(b: Buffer, pos: number, width: number, v: number): void {
  for (let i = pos + width - 1; i >= pos; i--) {
    b[i] = 0x30 + (v % 10);
    v = Math.floor(v / 10);
  }
}

// the run id's part of the header ("es1 <run> "), kept for the run that puts (one run per generator)
let headRun = '';
let head = Buffer.alloc(0);

export function encodeValue(runId: string, info: ValueInfo, size: number): Buffer {
  if (runId.length !== 8) throw new Error('run id must be 8 characters');
  if (size < VALUE_HEADER) throw new Error(`valueSize must be at least ${VALUE_HEADER} bytes`);
  if (runId !== headRun) {
    head = Buffer.from(`es1 ${runId} `, 'latin1');
    headRun = runId;
  }
  const b = Buffer.allocUnsafe(size);
  head.copy(b, 0);
  putDigits(b, 13, 4, info.writer % 10000);
  b[17] = 0x20;
  if (Number.isSafeInteger(info.seq) && info.seq >= 0 && info.seq < 1e12) putDigits(b, 18, 12, info.seq);
  else b.write(String(info.seq).padStart(12, '0'), 18, 'latin1');
  b[30] = 0x20;
  // toFixed's rounding, as the stamp always had
  const due = info.due.toFixed(3);
  const end = 31 + b.write(due.padStart(17, '0'), 31, 'latin1');
  b[end] = 0x20;
  b.fill(0x2e, end + 1);
  return b;
}

function digits(b: Uint8Array, from: number, to: number): number {
  let v = 0;
  for (let i = from; i < to; i++) {
    const c = b[i] - 0x30;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/** Decodes a value written by `encodeValue` for this run; undefined when it is not one. */
export function decodeValue(b: Uint8Array, runIdBytes: Uint8Array): ValueInfo | undefined {
  if (b.length < VALUE_HEADER) return undefined;
  for (let i = 0; i < 4; i++) if (b[i] !== MAGIC[i]) return undefined;
  for (let i = 0; i < 8; i++) if (b[4 + i] !== runIdBytes[i]) return undefined;
  if (b[12] !== 0x20 || b[17] !== 0x20 || b[30] !== 0x20 || b[44] !== 0x2e || b[48] !== 0x20) return undefined;
  const writer = digits(b, 13, 17);
  const seq = digits(b, 18, 30);
  const whole = digits(b, 31, 44);
  const frac = digits(b, 45, 48);
  if (writer < 0 || seq < 0 || whole < 0 || frac < 0) return undefined;
  return { writer, seq, due: whole + frac / 1000 };
}

/**
 * The sequence number of a value written by `encodeValue` for this run, read without allocating (the
 * watch checker reads one per event); -1 when it is not one.
 */
export function valueSeq(b: Uint8Array, runIdBytes: Uint8Array): number {
  if (b.length < VALUE_HEADER || b[0] !== 0x65 || b[1] !== 0x73 || b[2] !== 0x31 || b[3] !== 0x20) return -1;
  for (let i = 0; i < 8; i++) if (b[4 + i] !== runIdBytes[i]) return -1;
  if (b[17] !== 0x20 || b[30] !== 0x20) return -1;
  return digits(b, 18, 30);
}

/** A random 8-character run id ([0-9a-z]). */
export function newRunId(): string {
  let s = '';
  while (s.length < 8) s += Math.floor(Math.random() * 36).toString(36);
  return s;
}
