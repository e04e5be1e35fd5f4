"""PDQ arithmetic: luma plane -> 64 x 64 -> 16 x 16 DCT -> 256 bits.

PDQ (Meta, 2017) blurs the luma plane with two passes of a box filter along each
axis (the "Jarosz" tent filter), samples 64 x 64 points of the blurred plane,
takes the 16 x 16 lowest non-DC coefficients of its DCT and sets each bit when its
coefficient is above the median.

Everything before the median is linear in the luma plane.  So instead of blurring
every pixel and then throwing almost all of them away, we build, per axis, the
64 x n matrix that maps a column of pixels to the 64 sampled, blurred values, and
apply it as ``A @ luma @ B.T``.  Each row of ``A`` is non-zero on only about n/64
pixels, so the row product is a handful of short dot products; the cost is one
pass over the pixels instead of four.  The matrices depend only on the image size
and are cached.

The same matrices absorb two things the file pipeline needs:

* a plane that was reduced by an integer block factor while decoding (JPEG DCT
  scaling, ``Image.reduce``): the full-resolution weights are summed over each
  block, so the operator still describes the full-resolution filter;
* EXIF orientation (flips and transposition): the weights are reversed or the
  axes swapped instead of copying the pixels.

The arithmetic is float64 throughout.  The C++ reference accumulates in float32;
the two agree bit for bit except when two coefficients sit within float32
rounding of the median (see tests/signals/test_pdq_conformance.py for the
measured rate).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import numpy as np
import numpy.typing as npt

from ._hashes import PdqHash

MIN_DIMENSION: Final = 5
"""PDQ is undefined below 5 pixels on a side (the reference returns an empty hash)."""

WEAK_QUALITY: Final = 50
"""Hashes whose quality is below this are too flat to match on reliably."""

_OUT: Final = 64

Float64Array = npt.NDArray[np.float64]
Float32Array = npt.NDArray[np.float32]


def _dct_matrix() -> Float64Array:
    # Stored as float32 like the reference, then used in float64.
    i = np.arange(1, 17, dtype=np.float64)[:, None]
    j = np.arange(_OUT, dtype=np.float64)[None, :]
    scale = np.float32(np.sqrt(2.0 / _OUT))
    m = float(scale) * np.cos((np.pi / 2.0 / _OUT) * i * (2.0 * j + 1.0))
    return m.astype(np.float32).astype(np.float64)


_DCT: Final = _dct_matrix()


@lru_cache(maxsize=8)
def _axis_operator(n: int) -> Float64Array:
    """The 64 x n matrix: two box-filter passes along one axis, then the 64 samples.

    The box filter of window ``w`` averages ``in[o - (w - h) .. o + h - 1]`` (clipped
    at the edges, dividing by the number of pixels actually summed), where
    ``h = (w + 2) // 2``; ``w = ceil(n / 128)``.  Sample ``i`` is pixel
    ``floor((i + 0.5) * n / 64)``.
    """
    window = (n + 2 * _OUT - 1) // (2 * _OUT)
    half = (window + 2) // 2
    idx = np.arange(n)
    lo = np.maximum(0, idx - (window - half))
    hi = np.minimum(n - 1, idx + half - 1)
    inv = 1.0 / (hi - lo + 1)
    samples = ((np.arange(_OUT) + 0.5) * n / _OUT).astype(np.int64)

    # Row r of the result is sum_k B[s_r, k] * B[k, :] where B is the box matrix.
    # Each B[k, :] is a constant run, so accumulate the runs as +/- steps and integrate.
    # All rows at once: each row's steps are added in the order a per-row loop would add
    # them (its run starts, then its run ends, k ascending), so every sum is the same.
    first, last = lo[samples], hi[samples]
    counts = last - first + 1
    row_of = np.repeat(np.arange(_OUT), counts)
    offsets = np.cumsum(counts) - counts
    ks = first[row_of] + (np.arange(row_of.size) - offsets[row_of])
    weight = inv[samples][row_of] * inv[ks]
    order = np.argsort(np.concatenate((2 * row_of, 2 * row_of + 1)), kind="stable")
    cells = np.concatenate((row_of * (n + 1) + lo[ks], row_of * (n + 1) + hi[ks] + 1))[order]
    steps = np.concatenate((weight, -weight))[order]
    sums = np.bincount(cells, weights=steps, minlength=_OUT * (n + 1))
    diff = np.asarray(sums, dtype=np.float64).reshape(_OUT, n + 1)
    ends = hi[last] + 1
    op = np.cumsum(diff[:, :n], axis=1)
    # After the last step the exact sum is 0, but the float running sum keeps a ~1e-18
    # residue that would stretch every run to the end of the axis (and the work with it).
    op[np.arange(n)[None, :] >= ends[:, None]] = 0.0
    return op


@dataclass(frozen=True)
class _Band:
    """A 64 x n operator kept as its rows' non-zero runs: row r is ``weights[r]`` at ``starts[r]``.

    Only about 2n of the 64n entries are non-zero, so the cache holds many sizes cheaply.
    """

    n: int
    starts: tuple[int, ...]
    weights: tuple[Float64Array, ...]
    # The same runs padded to one length: pixel ``index[r, k]`` has weight ``padded[r, k]``
    # (padding points at a real pixel with weight 0), for :func:`downsample_64_gathered`.
    index: npt.NDArray[np.intp]
    padded: Float64Array

    def apply_rows(self, plane: Float64Array) -> Float64Array:
        """``op @ plane``: 64 x cols."""
        out = np.empty((_OUT, plane.shape[1]), dtype=np.float64)
        for r, (a, w) in enumerate(zip(self.starts, self.weights, strict=True)):
            np.dot(w, plane[a : a + len(w)], out=out[r])
        return out

    def apply_cols(self, t: Float64Array) -> Float64Array:
        """``t @ op.T``: rows x 64."""
        out = np.empty((_OUT, t.shape[0]), dtype=np.float64)
        for r, (a, w) in enumerate(zip(self.starts, self.weights, strict=True)):
            np.dot(t[:, a : a + len(w)], w, out=out[r])
        return out.T


@lru_cache(maxsize=512)
def _band(n_full: int, block: int, reverse: bool) -> _Band:
    """The operator for an axis of ``n_full`` pixels stored reduced by ``block``.

    The stored plane has ``ceil(n_full / block)`` pixels along this axis, pixel ``p``
    standing for full-resolution pixels ``p * block .. p * block + block - 1``
    (counted from the stored origin, which is the far end when ``reverse``).
    """
    op = _axis_operator(n_full)
    if reverse:
        op = op[:, ::-1]
    if block > 1:
        # Summed down the rows of the transpose: numpy gives the same sums, bit for bit, as
        # along each row of ``op`` (tests/signals/test_pdq_operators.py), about 3x faster.
        op = np.add.reduceat(np.ascontiguousarray(op.T), np.arange(0, n_full, block), axis=0).T
    # Each row's run, from its first to its last non-zero weight, copied into one buffer.
    nonzero = op != 0.0
    width = op.shape[1]
    firsts = np.argmax(nonzero, axis=1)
    stops = width - np.argmax(nonzero[:, ::-1], axis=1)
    lengths = stops - firsts
    bounds = np.concatenate(([0], np.cumsum(lengths)))
    keep = (np.arange(width)[None, :] >= firsts[:, None]) & (np.arange(width)[None, :] < stops[:, None])
    buffer = op[keep]
    buffer.setflags(write=False)
    starts = firsts.tolist()
    spans = bounds.tolist()
    weights = tuple(buffer[spans[r] : spans[r + 1]] for r in range(_OUT))
    longest = int(lengths.max())
    steps = np.arange(longest)[None, :]
    index = np.minimum(firsts[:, None] + steps, width - 1)
    padded = np.where(steps < lengths[:, None], op[np.arange(_OUT)[:, None], index], 0.0)
    index.setflags(write=False)
    padded.setflags(write=False)
    return _Band(width, tuple(starts), weights, index, padded)


@dataclass(frozen=True, slots=True)
class Orientation:
    """How the stored plane maps onto the upright picture (numpy terms).

    upright = stored; then ``.T`` if ``transpose``; then ``[::-1]`` if ``flip_rows``;
    then ``[:, ::-1]`` if ``flip_cols``.
    """

    transpose: bool = False
    flip_rows: bool = False
    flip_cols: bool = False


# EXIF orientation tag value -> the numpy steps that make the picture upright.
EXIF_ORIENTATIONS: Final[dict[int, Orientation]] = {
    1: Orientation(),
    2: Orientation(flip_cols=True),
    3: Orientation(flip_rows=True, flip_cols=True),
    4: Orientation(flip_rows=True),
    5: Orientation(transpose=True),
    6: Orientation(transpose=True, flip_cols=True),
    7: Orientation(transpose=True, flip_rows=True, flip_cols=True),
    8: Orientation(transpose=True, flip_rows=True),
}

UPRIGHT: Final = EXIF_ORIENTATIONS[1]


def downsample_64(
    plane: Float64Array,
    full_size: tuple[int, int],
    block: int = 1,
    orientation: Orientation = UPRIGHT,
) -> Float64Array:
    """PDQ's blurred 64 x 64 samples of the upright, full-resolution picture.

    ``plane`` is the stored luma (rows x cols), possibly reduced by ``block``;
    ``full_size`` is the stored plane's (rows, cols) before reduction.
    """
    rows_full, cols_full = full_size
    if orientation.transpose:
        # upright[r, c] = stored[c', r']: upright rows run along stored columns.
        row_op = _band(cols_full, block, orientation.flip_rows)
        col_op = _band(rows_full, block, orientation.flip_cols)
        t = col_op.apply_rows(plane)  # 64 (upright cols) x stored cols
        return row_op.apply_cols(t).T
    row_op = _band(rows_full, block, orientation.flip_rows)
    col_op = _band(cols_full, block, orientation.flip_cols)
    t = row_op.apply_rows(plane)  # 64 x stored cols
    return col_op.apply_cols(t)


def downsample_64_gathered(plane: Float64Array, full_size: tuple[int, int], block: int = 1) -> Float64Array:
    """:func:`downsample_64` of an upright plane, in two whole-array steps.

    Each axis gathers every sample's run of pixels at once and weights it, instead of
    one dot product per sample: about three times faster for the sizes the query side
    crops, and equal to :func:`downsample_64` to within float rounding (about 1e-13 of
    a grey level), not bit for bit.  The query side uses it; what is stored or compared
    with other implementations uses :func:`downsample_64`.  ``plane`` may be a view.
    """
    row_op = _band(full_size[0], block, False)
    col_op = _band(full_size[1], block, False)
    rows = np.einsum("rk,rkc->rc", row_op.padded, plane[row_op.index])  # 64 x cols
    out: Float64Array = np.einsum("ck,rck->rc", col_op.padded, rows[:, col_op.index])
    return out


def quality_of(samples: Float64Array) -> int:
    """PDQ's quality: the sum of quantised gradients of the 64 x 64 samples, capped at 100."""
    s = samples.astype(np.float32)
    hundred = np.float32(100)
    d255 = np.float32(255)
    dv = np.trunc(((s[:-1, :] - s[1:, :]) * hundred) / d255)
    dh = np.trunc(((s[:, :-1] - s[:, 1:]) * hundred) / d255)
    total = int(np.abs(dv).sum(dtype=np.float64)) + int(np.abs(dh).sum(dtype=np.float64))
    return min(100, total // 90)


def dct_16(samples: Float64Array) -> Float64Array:
    """The 16 x 16 block of lowest non-DC DCT coefficients of the 64 x 64 samples."""
    s = samples.astype(np.float32).astype(np.float64)
    result: Float64Array = _DCT @ s @ _DCT.T
    return result


def bits_of(coefficients: Float64Array) -> PdqHash:
    """Bit k is set when coefficient k (row-major) is above the median.

    The median is the 128th smallest of the 256 (as Torben's method returns it),
    so a hash of distinct coefficients has exactly 128 bits set.
    """
    flat = coefficients.reshape(-1)
    median = np.partition(flat, 127)[127]
    return PdqHash.from_bits(flat > median)


# Sign patterns for the dihedral transforms, in coefficient space: the DCT basis
# function of (0-based) frequency index k is odd under reversal when k is even.
_ODD = np.arange(16) % 2 == 1
_SIGN = np.where(_ODD, 1.0, -1.0)
_ROW_SIGN = _SIGN[:, None]
_COL_SIGN = _SIGN[None, :]
_CHECKER = _ROW_SIGN * _COL_SIGN


def dihedral_coefficients(c: Float64Array) -> list[Float64Array]:
    """The coefficients of the 8 dihedral variants, in the documented order.

    original, rotate 90, rotate 180, rotate 270, flip x, flip y, flip +1, flip -1.
    """
    return [
        c,
        (c * _COL_SIGN).T,
        c * _CHECKER,
        (c * _ROW_SIGN).T,
        c * _ROW_SIGN,
        c * _COL_SIGN,
        c.T,
        (c * _CHECKER).T,
    ]


def luma_from_rgb(rgb: npt.NDArray[np.uint8]) -> Float32Array:
    """ITU-R 601 luma as the reference Python binding computes it (float64, then float32)."""
    r = rgb[..., 0] * 0.299
    r += rgb[..., 1] * 0.587
    r += rgb[..., 2] * 0.114
    return r.astype(np.float32)
