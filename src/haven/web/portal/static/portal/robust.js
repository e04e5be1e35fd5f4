// Robust signals of a picture, computed in the browser: the whole-picture PDQ plus the PDQ of
// 11 fixed crops (centre crops, corners, halves), as haven.signals.robust_signals computes them.
//
// A port of haven.signals._robust's submit side, step for step:
//
//   plane    the upright luma (float32-rounded, as pdq.js computes it) box-reduced by the
//            largest power of two f that keeps the short side at or above 256 (_shrink):
//            rows and columns past a multiple of f are dropped, each f x f block is averaged.
//            Luma values are float32 multiples of 2^-27 below 256, so a block's float64 sum is
//            exact in any order (for f < 512) and dividing by f * f (a power of two) is exact.
//   boxes    each crop's fractions times the reduced plane's size, rounded half to even
//            (Python's round), as (top, left, bottom, right) (_box)
//   size     crops with a side under 32 reduced pixels are skipped (_big_enough)
//   hash     PDQ of the crop of the reduced plane with the full-resolution filter: each axis's
//            64 x n operator for n = crop side x f, summed over each block of f columns the
//            way numpy's add.reduceat sums (the first weight plus the pairwise sum of the
//            rest), then applied to the reduced pixels (_hash_plane)
//   floor    crops whose quality is below 50 are not kept (QUALITY_FLOOR)
//
// The result matches Python's bit for bit except where Python's own result depends on the
// machine: numpy applies the operators and the DCT through BLAS, whose summation order (and use
// of fused multiply-add) varies with the CPU, while this file sums in index order. The two
// differ by a few units in the last place of a sample or a coefficient; that changes a hash bit
// only when a coefficient is that close to the median (symmetric or flat crops, which the
// quality floor mostly removes) and a quality only when a sample sits on a float32 rounding
// boundary. docs/portal-hashing.md has the measured agreement.

import { PdqHasher, axisOperator, pdqFromSamples } from "./pdq.js";

const OUT = 64;
export const QUALITY_FLOOR = 50;
const WORK_MIN_SIDE = 256;
const MIN_CROP_SIDE = 32;

/** Kind -> (left, top, right, bottom), fractions of the upright picture, in Python's order. */
export const CROPS = [
  ["centre80", [0.1, 0.1, 0.9, 0.9]],
  ["centre64", [0.18, 0.18, 0.82, 0.82]],
  ["centre50", [0.25, 0.25, 0.75, 0.75]],
  ["corner60_tl", [0.0, 0.0, 0.6, 0.6]],
  ["corner60_tr", [0.4, 0.0, 1.0, 0.6]],
  ["corner60_bl", [0.0, 0.4, 0.6, 1.0]],
  ["corner60_br", [0.4, 0.4, 1.0, 1.0]],
  ["top50", [0.0, 0.0, 1.0, 0.5]],
  ["bottom50", [0.0, 0.5, 1.0, 1.0]],
  ["left50", [0.0, 0.0, 0.5, 1.0]],
  ["right50", [0.5, 0.0, 1.0, 1.0]],
];

/** The block factor _shrink chooses for a rows x cols plane. */
export function shrinkFactor(rows, cols) {
  const short = Math.min(rows, cols);
  let factor = 1;
  while (Math.floor(short / (factor * 2)) >= WORK_MIN_SIDE) factor *= 2;
  return factor;
}

/** Python's round() of a float to an integer: halves go to the even neighbour. */
function roundHalfEven(x) {
  const f = Math.floor(x);
  const d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

// numpy's pairwise sum of a[from .. to) (npy_pairwise_sum; 8 accumulators, blocks of 128).
function pairwiseSum(a, from, to) {
  const n = to - from;
  if (n < 8) {
    let res = 0;
    for (let i = from; i < to; i++) res += a[i];
    return res;
  }
  if (n <= 128) {
    const r = [];
    for (let j = 0; j < 8; j++) r.push(a[from + j]);
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] += a[from + i + j];
    let res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++) res += a[from + i];
    return res;
  }
  let half = Math.floor(n / 2);
  half -= half % 8;
  return pairwiseSum(a, from, from + half) + pairwiseSum(a, from + half, to);
}

/**
 * The operator for an axis of `n` reduced pixels, each standing for `block` full ones, as
 * _pdq._band(n * block, block, False) keeps it: each row's run from its first to its last
 * non-zero weight.
 */
function reducedBand(n, block) {
  const full = n * block;
  const op = axisOperator(full);
  const starts = new Int32Array(OUT);
  const weights = [];
  const row = new Float64Array(n);
  for (let r = 0; r < OUT; r++) {
    const base = r * full;
    for (let p = 0; p < n; p++) {
      const a = base + p * block;
      // np.add.reduceat: the segment's first element, plus the pairwise sum of the others.
      row[p] = block === 1 ? op[a] : op[a] + pairwiseSum(op, a + 1, a + block);
    }
    let first = 0;
    while (first < n && row[first] === 0) first++;
    let last = n - 1;
    while (last > first && row[last] === 0) last--;
    starts[r] = first;
    weights.push(row.slice(first, last + 1));
  }
  return { starts, weights };
}

/**
 * Streams luma rows (as PdqHasher hands them over) into the reduced upright plane.
 */
export class ReducedPlane {
  constructor(width, height) {
    this.block = shrinkFactor(height, width);
    this.rows = Math.floor(height / this.block);
    this.cols = Math.floor(width / this.block);
    this.plane = new Float64Array(this.rows * this.cols);
  }

  addLuma(luma, y) {
    const f = this.block;
    const ry = Math.floor(y / f);
    if (ry >= this.rows) return;
    const cols = this.cols;
    const plane = this.plane;
    const o = ry * cols;
    if (f === 1) {
      for (let c = 0; c < cols; c++) plane[o + c] = luma[c];
      return;
    }
    for (let rc = 0, x = 0; rc < cols; rc++) {
      let s = 0;
      for (let k = 0; k < f; k++, x++) s += luma[x];
      plane[o + rc] += s;
    }
  }

  /** The finished plane: {plane, rows, cols, block}. */
  finish() {
    const f = this.block;
    if (f > 1) {
      const scale = 1 / (f * f); // a power of two: the same double as dividing by f * f
      for (let i = 0; i < this.plane.length; i++) this.plane[i] *= scale;
    }
    return { plane: this.plane, rows: this.rows, cols: this.cols, block: f };
  }
}

/** PDQ of plane[r0:r1, c0:c1], each pixel standing for block x block full-resolution pixels. */
function hashCrop(reduced, r0, c0, r1, c1, bands) {
  const { plane, cols, block } = reduced;
  const h = r1 - r0;
  const w = c1 - c0;
  const band = (n) => {
    let b = bands.get(n);
    if (!b) bands.set(n, (b = reducedBand(n, block)));
    return b;
  };
  const rowBand = band(h);
  const colBand = band(w);
  // t = rowOp @ crop: 64 x w, each row a dot product over the run, in index order.
  const t = new Float64Array(OUT * w);
  for (let r = 0; r < OUT; r++) {
    const a = rowBand.starts[r];
    const wt = rowBand.weights[r];
    const o = r * w;
    for (let k = 0; k < wt.length; k++) {
      const weight = wt[k];
      const p = (r0 + a + k) * cols + c0;
      for (let c = 0; c < w; c++) t[o + c] += weight * plane[p + c];
    }
  }
  // samples = t @ colOp.T: 64 x 64.
  const samples = new Float64Array(OUT * OUT);
  for (let i = 0; i < OUT; i++) {
    const o = i * w;
    for (let r = 0; r < OUT; r++) {
      const a = colBand.starts[r];
      const wt = colBand.weights[r];
      let s = 0;
      for (let k = 0; k < wt.length; k++) s += t[o + a + k] * wt[k];
      samples[i * OUT + r] = s;
    }
  }
  return pdqFromSamples(samples);
}

/** The crop signals of a reduced plane: [{kind, hash, quality}] in CROPS order, floor applied. */
export function cropSignals(reduced) {
  const { rows, cols } = reduced;
  const bands = new Map();
  const out = [];
  for (const [kind, [left, top, right, bottom]] of CROPS) {
    const r0 = roundHalfEven(top * rows);
    const c0 = roundHalfEven(left * cols);
    const r1 = roundHalfEven(bottom * rows);
    const c1 = roundHalfEven(right * cols);
    if (Math.min(r1 - r0, c1 - c0) < MIN_CROP_SIDE) continue;
    const { hash, quality } = hashCrop(reduced, r0, c0, r1, c1, bands);
    if (quality >= QUALITY_FLOOR) out.push({ kind, hash, quality });
  }
  return out;
}

/**
 * Streaming robust hashing: feed RGBA rows top to bottom with addRows(), then finish() for
 * {hash, quality, dihedral} of the whole picture and `crops`, its crop signals.
 */
export class RobustHasher {
  constructor(width, height) {
    this.reduced = new ReducedPlane(width, height);
    this.pdq = new PdqHasher(width, height, (luma, y) => this.reduced.addLuma(luma, y));
  }

  addRows(rgba) {
    this.pdq.addRows(rgba);
  }

  finish() {
    const whole = this.pdq.finish();
    return { ...whole, crops: cropSignals(this.reduced.finish()) };
  }
}

/**
 * robust_signals of an upright RGBA picture (alpha ignored): [{kind, hash, quality}], the
 * whole-picture PDQ (kind "pdq") first, then the crops that pass the quality floor.
 */
export function robustSignalsFromRgba(rgba, width, height) {
  if (!rgba || rgba.length !== width * height * 4) {
    throw new Error(
      `expected ${width * height * 4} bytes of RGBA for ${width} x ${height}, got ${rgba ? rgba.length : 0}`,
    );
  }
  const hasher = new RobustHasher(width, height);
  hasher.addRows(rgba);
  const { hash, quality, crops } = hasher.finish();
  return [{ kind: "pdq", hash, quality }, ...crops];
}
