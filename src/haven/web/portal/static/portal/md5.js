// MD5 (RFC 1321) of bytes, in the browser.
//
// Web Crypto has no MD5, but partner platforms still exchange MD5 lists, so the portal
// computes it here. MD5 is used only to recognise identical files, never for security.

const S = [
  7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9,
  14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15,
  21, 6, 10, 15, 21,
];

// K[i] = floor(abs(sin(i + 1)) * 2^32)
const K = new Int32Array(64);
for (let i = 0; i < 64; i++) K[i] = Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) | 0;

function toBytes(data) {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError("md5Hex takes an ArrayBuffer or a typed array");
}

/** Process the 64-byte blocks of `bytes` starting at `offset`; `state` is [a, b, c, d]. */
function blocks(state, bytes, offset, end, m) {
  let [a0, b0, c0, d0] = state;
  for (let p = offset; p < end; p += 64) {
    for (let i = 0; i < 16; i++) {
      const q = p + 4 * i;
      m[i] = bytes[q] | (bytes[q + 1] << 8) | (bytes[q + 2] << 16) | (bytes[q + 3] << 24);
    }
    let a = a0;
    let b = b0;
    let c = c0;
    let d = d0;
    for (let i = 0; i < 64; i++) {
      let f;
      let g;
      if (i < 16) {
        f = (b & c) | (~b & d);
        g = i;
      } else if (i < 32) {
        f = (d & b) | (~d & c);
        g = (5 * i + 1) & 15;
      } else if (i < 48) {
        f = b ^ c ^ d;
        g = (3 * i + 5) & 15;
      } else {
        f = c ^ (b | ~d);
        g = (7 * i) & 15;
      }
      const t = (a + f + K[i] + m[g]) | 0;
      a = d;
      d = c;
      c = b;
      b = (b + ((t << S[i]) | (t >>> (32 - S[i])))) | 0;
    }
    a0 = (a0 + a) | 0;
    b0 = (b0 + b) | 0;
    c0 = (c0 + c) | 0;
    d0 = (d0 + d) | 0;
  }
  state[0] = a0;
  state[1] = b0;
  state[2] = c0;
  state[3] = d0;
}

/** The MD5 of an ArrayBuffer (or typed array) as 32 lowercase hex digits. */
export function md5Hex(data) {
  const bytes = toBytes(data);
  const n = bytes.length;
  const state = [0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476];
  const m = new Int32Array(16);
  const whole = n - (n % 64);
  blocks(state, bytes, 0, whole, m);

  // The last partial block, 0x80, zeros, and the length in bits (64-bit little-endian).
  const tailLength = n % 64 < 56 ? 64 : 128;
  const tail = new Uint8Array(tailLength);
  tail.set(bytes.subarray(whole));
  tail[n - whole] = 0x80;
  const bitsLow = (n * 8) >>> 0;
  const bitsHigh = Math.floor(n / 2 ** 29) >>> 0;
  for (let i = 0; i < 4; i++) {
    tail[tailLength - 8 + i] = (bitsLow >>> (8 * i)) & 0xff;
    tail[tailLength - 4 + i] = (bitsHigh >>> (8 * i)) & 0xff;
  }
  blocks(state, tail, 0, tailLength, m);

  let hex = "";
  for (const word of state) {
    for (let i = 0; i < 4; i++) hex += ((word >>> (8 * i)) & 0xff).toString(16).padStart(2, "0");
  }
  return hex;
}
