// HPACK's static Huffman code (RFC 7541 appendix B). The code is canonical, so the table is only each
// symbol's code length; the codes follow from the lengths, and a test checks them against the RFC's
// examples and against nghttp2's encoder.

/** code length of symbols 0..255, 16 per row; the end-of-string symbol (256) is 30 bits of ones */
// prettier-ignore
const LENGTHS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];

const EOS = 256;

/** canonical codes: by length, then by symbol */
function canonical(): { codes: Uint32Array; lengths: Uint8Array } {
  const lengths = Uint8Array.from(LENGTHS);
  const codes = new Uint32Array(257);
  const order = Array.from({ length: 257 }, (_, s) => s).sort((a, b) => lengths[a] - lengths[b] || a - b);
  let code = 0;
  let len = lengths[order[0]];
  for (let i = 0; i < order.length; i++) {
    const s = order[i];
    code <<= lengths[s] - len;
    len = lengths[s];
    codes[s] = code;
    code++;
  }
  return { codes, lengths };
}

export const HUFFMAN = canonical();

/**
 * The decoding tree as a flat array: node n's children are tree[2n] (bit 0) and tree[2n + 1] (bit 1);
 * a child >= 0 is an inner node, -1 - sym a leaf, and 0 (the root can be no one's child) no code.
 */
const TREE = (() => {
  const tree: number[] = [0, 0];
  let nodes = 1;
  for (let s = 0; s <= EOS; s++) {
    const code = HUFFMAN.codes[s];
    const len = HUFFMAN.lengths[s];
    let n = 0;
    for (let b = len - 1; b >= 0; b--) {
      const bit = (code >>> b) & 1;
      if (b === 0) {
        tree[2 * n + bit] = -1 - s;
        break;
      }
      if (tree[2 * n + bit] === 0) {
        tree[2 * n + bit] = nodes++;
        tree.push(0, 0);
      }
      n = tree[2 * n + bit];
    }
  }
  return Int32Array.from(tree);
})();

/**
 * Decodes a Huffman-coded string (as latin1: one char per byte). Throws on the end-of-string symbol,
 * on padding longer than 7 bits or not all ones: both are decoding errors (RFC 7541 5.2).
 */
export function huffmanDecode(buf: Uint8Array, start: number, end: number): string {
  let out = '';
  let n = 0;
  /** bits read since the last whole symbol, and whether they were all ones */
  let pending = 0;
  let ones = true;
  for (let i = start; i < end; i++) {
    const byte = buf[i];
    for (let b = 7; b >= 0; b--) {
      const bit = (byte >>> b) & 1;
      const next = TREE[2 * n + bit];
      pending++;
      if (bit === 0) ones = false;
      if (next < 0) {
        const sym = -1 - next;
        if (sym === EOS) throw new Error('huffman: end-of-string symbol in a string');
        out += String.fromCharCode(sym);
        n = 0;
        pending = 0;
        ones = true;
      } else if (next === 0) {
        throw new Error('huffman: no such code');
      } else n = next;
    }
  }
  if (pending > 7 || !ones) throw new Error('huffman: bad padding');
  return out;
}

/** Huffman-codes a latin1 string (for tests and for callers that want the shorter form). */
export function huffmanEncode(s: string): Buffer {
  let bits = 0;
  for (let i = 0; i < s.length; i++) bits += HUFFMAN.lengths[s.charCodeAt(i) & 0xff];
  const out = Buffer.alloc(Math.ceil(bits / 8), 0xff);
  let pos = 0;
  for (let i = 0; i < s.length; i++) {
    const sym = s.charCodeAt(i) & 0xff;
    const code = HUFFMAN.codes[sym];
    for (let b = HUFFMAN.lengths[sym] - 1; b >= 0; b--, pos++) {
      const byte = pos >>> 3;
      const mask = 0x80 >>> (pos & 7);
      if ((code >>> b) & 1) out[byte] |= mask;
      else out[byte] &= ~mask;
    }
  }
  return out;
}
