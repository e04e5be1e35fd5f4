// PDQ perceptual hash (Meta, 2017) of RGBA pixels, computed in the browser.
//
// This is a line-for-line port of haven.signals._pdq, so that a picture hashed here
// gets the hash the server would give the same pixels:
//
//   luma     float32(0.299 R + 0.587 G + 0.114 B), the sum taken in float64 in that order
//   blur     per axis, two passes of a box filter (window ceil(n / 128)) then 64 samples,
//            folded into one 64 x n "band" operator whose rows are short runs of weights
//   DCT      the 16 x 16 lowest non-DC coefficients of the float32-rounded 64 x 64 samples
//   bits     coefficient > the 128th smallest of the 256; bit k is coefficient k (row-major)
//   hex      big-endian hex of the 256-bit integer, so the last hex digit holds bits 0-3
//   quality  PDQ's gradient sum in float32 arithmetic, // 90, capped at 100
//
// All arithmetic is float64 except where the Python code rounds to float32 (Math.fround).
//
// The pixels are consumed a strip of rows at a time (PdqHasher.addRows), and each row only
// feeds the two or three output rows whose band covers it, so memory is O(width) beyond the
// caller's pixels and a 12-megapixel photo costs one pass over its bytes.

const OUT = 64;
export const MIN_DIMENSION = 5;

// Per-channel luma terms: v * 0.299 etc. are exactly what numpy computes for uint8 * float.
const LUMA_R = new Float64Array(256);
const LUMA_G = new Float64Array(256);
const LUMA_B = new Float64Array(256);
for (let v = 0; v < 256; v++) {
  LUMA_R[v] = v * 0.299;
  LUMA_G[v] = v * 0.587;
  LUMA_B[v] = v * 0.114;
}

// 16 x 64 DCT matrix, frequencies 1..16, entries rounded to float32 like the reference.
const DCT = (() => {
  const m = new Float64Array(16 * OUT);
  const scale = Math.fround(Math.sqrt(2.0 / OUT));
  const step = Math.PI / 2.0 / OUT;
  for (let i = 1; i <= 16; i++) {
    for (let j = 0; j < OUT; j++) {
      m[(i - 1) * OUT + j] = Math.fround(scale * Math.cos(step * i * (2.0 * j + 1.0)));
    }
  }
  return m;
})();

/**
 * The Jarosz box of each pixel of an n-pixel axis (lo..hi inclusive, 1/size), as _axis_operator
 * has it.
 */
function boxes(n) {
  const window = Math.floor((n + 2 * OUT - 1) / (2 * OUT));
  const half = Math.floor((window + 2) / 2);
  const lo = new Int32Array(n);
  const hi = new Int32Array(n);
  const inv = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    lo[k] = Math.max(0, k - (window - half));
    hi[k] = Math.min(n - 1, k + half - 1);
    inv[k] = 1.0 / (hi[k] - lo[k] + 1);
  }
  return { lo, hi, inv };
}

/**
 * Output row r's weights as +/- steps into `diff` (length n + 1), in the order np.add.at adds
 * them: all the +weights, then (second call) all the -weights, in k order. Returns the sample s.
 */
function rowSteps({ lo, hi, inv }, n, r, diff) {
  const s = Math.floor(((r + 0.5) * n) / OUT);
  diff.fill(0);
  for (let k = lo[s]; k <= hi[s]; k++) diff[lo[k]] += inv[s] * inv[k];
  for (let k = lo[s]; k <= hi[s]; k++) diff[hi[k] + 1] += -(inv[s] * inv[k]);
  return s;
}

/**
 * The 64 x n operator for one axis, as runs. Built exactly as _axis_operator builds it
 * (weights accumulated as +/- steps, then a running sum), so the weights are the same
 * doubles. After the row's last step the exact sum is 0 and, as in Python, the float
 * residue (~1e-18) is dropped. A row whose box reaches the end of the axis ends in a
 * constant `tail` from `tailStart` on, applied through column sums instead of one product
 * per pixel.
 */
function buildBand(n) {
  const box = boxes(n);
  const { hi } = box;
  const starts = new Int32Array(OUT);
  const ends = new Int32Array(OUT); // exclusive end of the main run
  const tails = new Float64Array(OUT);
  const tailStarts = new Int32Array(OUT).fill(n);
  const weights = [];
  const diff = new Float64Array(n + 1);
  for (let r = 0; r < OUT; r++) {
    const s = rowSteps(box, n, r, diff);
    let lastStep = 0;
    for (let j = 0; j < n; j++) if (diff[j] !== 0) lastStep = j;
    // The exact sum is 0 from trueEnd on (Python zeroes it there too); when the box reaches
    // the end of the axis (trueEnd == n) the sum is constant from lastStep on.
    const trueEnd = hi[hi[s]] + 1;
    const stop = trueEnd < n ? trueEnd : lastStep + 1;
    const row = new Float64Array(stop);
    let acc = 0;
    let first = -1;
    let lastNonzero = -1;
    for (let j = 0; j < stop; j++) {
      acc += diff[j];
      row[j] = acc;
      if (acc !== 0) {
        if (first < 0) first = j;
        lastNonzero = j;
      }
    }
    if (first < 0) first = 0;
    let end = lastNonzero + 1;
    if (trueEnd >= n && acc !== 0) {
      end = lastStep;
      tails[r] = acc;
      tailStarts[r] = lastStep;
    }
    if (end < first) end = first;
    starts[r] = first;
    ends[r] = end;
    weights.push(row.slice(first, end));
  }
  return { n, starts, ends, weights, tails, tailStarts };
}

/**
 * The dense 64 x n operator, exactly as _axis_operator returns it (float residue past each
 * row's true end zeroed). The streaming hasher uses the run form above; robust.js needs the
 * dense rows to sum them over blocks as numpy's reduceat does.
 */
export function axisOperator(n) {
  const box = boxes(n);
  const { hi } = box;
  const op = new Float64Array(OUT * n);
  const diff = new Float64Array(n + 1);
  for (let r = 0; r < OUT; r++) {
    const s = rowSteps(box, n, r, diff);
    const stop = Math.min(n, hi[hi[s]] + 1);
    let acc = 0;
    for (let j = 0; j < stop; j++) {
      acc += diff[j];
      op[r * n + j] = acc;
    }
  }
  return op;
}

const bandCache = new Map();
function band(n) {
  let b = bandCache.get(n);
  if (!b) {
    b = buildBand(n);
    if (bandCache.size >= 16) bandCache.delete(bandCache.keys().next().value);
    bandCache.set(n, b);
  }
  return b;
}

function checkSize(width, height) {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 0 || height < 0) {
    throw new Error(`invalid image size ${width} x ${height}`);
  }
  if (width < MIN_DIMENSION || height < MIN_DIMENSION) {
    throw new Error(
      `the picture is ${width} x ${height} pixels; a perceptual hash needs at least ` +
        `${MIN_DIMENSION} x ${MIN_DIMENSION}`,
    );
  }
}

/**
 * Streaming PDQ: feed the RGBA rows top to bottom with addRows(), then finish().
 */
export class PdqHasher {
  /** `onLuma(luma, y)`, if given, sees each row's luma (a reused Float64Array) as it is added. */
  constructor(width, height, onLuma = null) {
    checkSize(width, height);
    this.onLuma = onLuma;
    this.width = width;
    this.height = height;
    this.rowBand = band(height);
    this.colBand = band(width);
    this.y = 0;
    this.acc = new Float64Array(OUT * width); // rowBand @ luma, 64 x width
    this.luma = new Float64Array(width);
    this.firstActive = 0; // lowest output row whose main run has not ended yet
    const hasTail = this.rowBand.tails.some((t) => t !== 0);
    this.colSum = hasTail ? new Float64Array(width) : null;
    this.prefix = hasTail ? new Array(OUT).fill(null) : null;
  }

  /** Add whole rows of RGBA pixels (4 bytes a pixel, alpha ignored), in order. */
  addRows(rgba) {
    const w = this.width;
    if (rgba.length % (4 * w) !== 0) {
      throw new Error(`a strip of RGBA rows must be a multiple of ${4 * w} bytes, got ${rgba.length}`);
    }
    const rows = rgba.length / (4 * w);
    if (this.y + rows > this.height) throw new Error("more rows than the picture has");
    const { starts, ends, weights } = this.rowBand;
    const acc = this.acc;
    const luma = this.luma;
    const colSum = this.colSum;
    for (let i = 0; i < rows; i++, this.y++) {
      const y = this.y;
      if (colSum) this.snapshotTails(y);
      let p = i * 4 * w;
      for (let c = 0; c < w; c++, p += 4) {
        luma[c] = Math.fround(LUMA_R[rgba[p]] + LUMA_G[rgba[p + 1]] + LUMA_B[rgba[p + 2]]);
      }
      if (this.onLuma) this.onLuma(luma, y);
      if (colSum) for (let c = 0; c < w; c++) colSum[c] += luma[c];
      while (this.firstActive < OUT && ends[this.firstActive] <= y) this.firstActive++;
      for (let r = this.firstActive; r < OUT && starts[r] <= y; r++) {
        if (y >= ends[r]) continue;
        const wt = weights[r][y - starts[r]];
        if (wt === 0) continue; // Python's product would add exactly +0 too
        const o = r * w;
        for (let c = 0; c < w; c++) acc[o + c] += wt * luma[c];
      }
    }
  }

  // Before row y is added: rows whose constant tail starts at y take the column sums so far.
  snapshotTails(y) {
    const { tails } = this.rowBand;
    for (let r = 0; r < OUT; r++) {
      if (tails[r] !== 0 && this.rowBand.tailStarts[r] === y) this.prefix[r] = this.colSum.slice();
    }
  }

  finish() {
    if (this.y !== this.height) {
      throw new Error(`expected ${this.height} rows of pixels, got ${this.y}`);
    }
    const w = this.width;
    const acc = this.acc;
    const rb = this.rowBand;
    if (this.colSum) {
      for (let r = 0; r < OUT; r++) {
        if (rb.tails[r] === 0) continue;
        const pre = this.prefix[r];
        const t = rb.tails[r];
        const o = r * w;
        for (let c = 0; c < w; c++) acc[o + c] += t * (this.colSum[c] - (pre ? pre[c] : 0));
      }
    }
    // Columns: samples[i][r] = sum_k acc[i][start_r + k] * weight_r[k] (+ tail over the rest).
    const cb = this.colBand;
    const samples = new Float64Array(OUT * OUT);
    const rowSum = new Float64Array(w + 1);
    const needSums = cb.tails.some((t) => t !== 0);
    for (let i = 0; i < OUT; i++) {
      const o = i * w;
      if (needSums) {
        rowSum[0] = 0;
        for (let c = 0; c < w; c++) rowSum[c + 1] = rowSum[c] + acc[o + c];
      }
      for (let r = 0; r < OUT; r++) {
        const a = cb.starts[r];
        const wt = cb.weights[r];
        let s = 0;
        for (let k = 0; k < wt.length; k++) s += acc[o + a + k] * wt[k];
        if (cb.tails[r] !== 0) s += cb.tails[r] * (rowSum[w] - rowSum[cb.tailStarts[r]]);
        samples[i * OUT + r] = s;
      }
    }
    return pdqFromSamples(samples);
  }
}

/**
 * Hash, quality and dihedral hashes from PDQ's 64 x 64 blurred samples (row-major float64),
 * as _pdq.dct_16, quality_of and bits_of compute them.
 */
export function pdqFromSamples(samples) {
  const s = new Float64Array(OUT * OUT);
  for (let k = 0; k < s.length; k++) s[k] = Math.fround(samples[k]);
  const quality = qualityOf(s);
  // D @ S @ D.T
  const t = new Float64Array(16 * OUT);
  for (let u = 0; u < 16; u++) {
    for (let j = 0; j < OUT; j++) {
      let sum = 0;
      for (let i = 0; i < OUT; i++) sum += DCT[u * OUT + i] * s[i * OUT + j];
      t[u * OUT + j] = sum;
    }
  }
  const c = new Float64Array(256);
  for (let u = 0; u < 16; u++) {
    for (let v = 0; v < 16; v++) {
      let sum = 0;
      for (let j = 0; j < OUT; j++) sum += t[u * OUT + j] * DCT[v * OUT + j];
      c[u * 16 + v] = sum;
    }
  }
  const dihedral = dihedralCoefficients(c).map(hexOf);
  return { hash: dihedral[0], quality, dihedral };
}

function qualityOf(s) {
  const f = Math.fround;
  let dv = 0;
  let dh = 0;
  for (let i = 0; i < OUT; i++) {
    for (let j = 0; j < OUT; j++) {
      const x = s[i * OUT + j];
      if (i + 1 < OUT) dv += Math.abs(Math.trunc(f(f(f(x - s[(i + 1) * OUT + j]) * 100) / 255)));
      if (j + 1 < OUT) dh += Math.abs(Math.trunc(f(f(f(x - s[i * OUT + j + 1]) * 100) / 255)));
    }
  }
  return Math.min(100, Math.floor((Math.trunc(dv) + Math.trunc(dh)) / 90));
}

// Sign of the DCT basis under reversal, by 0-based frequency index: odd index -> +1.
const SIGN = Array.from({ length: 16 }, (_, k) => (k % 2 === 1 ? 1 : -1));

function dihedralCoefficients(c) {
  const make = (fn) => {
    const out = new Float64Array(256);
    for (let i = 0; i < 16; i++) for (let j = 0; j < 16; j++) out[i * 16 + j] = fn(i, j);
    return out;
  };
  const at = (i, j) => c[i * 16 + j];
  return [
    c,
    make((i, j) => at(j, i) * SIGN[i]), // rotate 90:  (c * col_sign).T
    make((i, j) => at(i, j) * SIGN[i] * SIGN[j]), // rotate 180
    make((i, j) => at(j, i) * SIGN[j]), // rotate 270: (c * row_sign).T
    make((i, j) => at(i, j) * SIGN[i]), // flip x
    make((i, j) => at(i, j) * SIGN[j]), // flip y
    make((i, j) => at(j, i)), // flip +1 (transpose)
    make((i, j) => at(j, i) * SIGN[i] * SIGN[j]), // flip -1
  ];
}

function hexOf(coefficients) {
  const sorted = Float64Array.from(coefficients).sort();
  const median = sorted[127];
  const digits = new Array(64);
  for (let d = 0; d < 64; d++) {
    // Hex digit d from the right holds bits 4d .. 4d + 3.
    let v = 0;
    for (let b = 0; b < 4; b++) if (coefficients[4 * d + b] > median) v |= 1 << b;
    digits[63 - d] = v.toString(16);
  }
  return digits.join("");
}

/**
 * PDQ of an RGBA picture (e.g. ImageData.data): {hash: 64 hex digits, quality 0-100,
 * dihedral: 8 hashes in the order original, rotate90, rotate180, rotate270, flipx, flipy,
 * flipplus1, flipminus1}. Alpha is ignored. Throws for pictures under 5 x 5 pixels.
 */
export function pdqFromRgba(rgba, width, height) {
  checkSize(width, height);
  if (!rgba || rgba.length !== width * height * 4) {
    throw new Error(
      `expected ${width * height * 4} bytes of RGBA for ${width} x ${height}, got ${rgba ? rgba.length : 0}`,
    );
  }
  const hasher = new PdqHasher(width, height);
  hasher.addRows(rgba);
  return hasher.finish();
}
