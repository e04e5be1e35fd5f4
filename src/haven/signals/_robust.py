"""Robust picture matching: extra PDQ signals per photo and a normalised query.

Plain PDQ describes the whole frame, so an edit that changes the frame (a crop,
padding, a caption band, a screenshot around the photo, a small rotation) or covers
part of it (an emoji, a line of text) moves the hash far away.  Two things bring it
back, both built only from PDQ:

* **Submit side** (:func:`robust_signals`): besides the whole-picture PDQ, the PDQ of
  a few fixed sub-rectangles of the picture (centre crops, corners, halves).  Each is
  a PDQ of a crop, so it reveals about as little as a PDQ.  The list is small,
  deterministic and needs nothing but crops of the decoded picture, so the portal can
  compute the same signals in the browser.
* **Query side** (:func:`query_signals`): the suspect picture is normalised into
  candidates: its flips and rotations, each sampled afresh; uniform borders and
  padding stripped; the photo rectangle found inside a frame (caption band, app
  screenshot) by its straight edges or by cutting along background gaps; small
  rotations undone; the same fixed sub-rectangles as the submit side, and where they
  would lie if the query were a crop of the original between the stored ones.

:class:`RobustMatcher` matches every candidate against the bank with a threshold per
signal kind, and where the picture is at hand (:func:`picture_query`) refines a
candidate that came near a bank signal but not within its threshold: a crop or a turn
between the grid's points (docs/robust-matching.md has the measurements behind each
number).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
from PIL import Image

from ._errors import HashingError, InvalidHashError
from ._hashers import ImageSource, PdqResult, _luma, _result
from ._hashes import PdqHash
from ._image import DEFAULT_LIMITS, Limits, LumaPlane, read_file_bytes
from ._index import HammingIndex
from ._pdq import (
    EXIF_ORIENTATIONS,
    Float64Array,
    bits_of,
    dct_16,
    downsample_64,
    downsample_64_gathered,
    quality_of,
)

WHOLE: Final = "pdq"
"""The kind of the whole-picture PDQ hash (the plain ``pdq`` of ``haven hash``)."""

DIHEDRAL: Final = "pdq_dihedral"
"""The kind of a bank's stored rotated/flipped variants of the whole-picture hash."""

# Fixed sub-rectangles, as fractions of the upright picture: (left, top, right, bottom).
CROPS: Final[Mapping[str, tuple[float, float, float, float]]] = {
    "centre80": (0.10, 0.10, 0.90, 0.90),
    "centre64": (0.18, 0.18, 0.82, 0.82),
    "centre50": (0.25, 0.25, 0.75, 0.75),
    "corner60_tl": (0.00, 0.00, 0.60, 0.60),
    "corner60_tr": (0.40, 0.00, 1.00, 0.60),
    "corner60_bl": (0.00, 0.40, 0.60, 1.00),
    "corner60_br": (0.40, 0.40, 1.00, 1.00),
    "top50": (0.00, 0.00, 1.00, 0.50),
    "bottom50": (0.00, 0.50, 1.00, 1.00),
    "left50": (0.00, 0.00, 0.50, 1.00),
    "right50": (0.50, 0.00, 1.00, 1.00),
}
"""The extra signals :func:`robust_signals` stores, by kind."""

KINDS: Final = (WHOLE, DIHEDRAL, *CROPS)
"""Every signal kind a bank may hold."""

QUALITY_FLOOR: Final = 50
"""Crops and query candidates below this PDQ quality are too flat to trust: skipped."""

THRESHOLDS: Final[Mapping[str, int]] = {
    WHOLE: 31,
    DIHEDRAL: 31,
    **dict.fromkeys(CROPS, 31),
}
"""The largest distance that counts as a match, per bank signal kind."""

ANGLES: Final = (-10.0, -7.5, -5.0, 5.0, 7.5, 10.0)
"""Rotations (degrees, counter-clockwise) the query side tries to undo."""

_WORK_MIN_SIDE: Final = 256  # crops are hashed from a copy reduced to about this short side
_MIN_CANDIDATE_SIDE: Final = 32
_MIN_CANDIDATE_AREA: Final = 0.12  # of the query picture
_MIN_EDGED_AREA: Final = 0.04  # a photo outlined by edges may be small in a screenshot of a whole page

REFINE_GATE: Final = 47
"""A candidate this close to a bank signal, but not within its threshold, is refined.

Where the suspect picture is at hand (:class:`PictureQuery`), the matcher moves such a
candidate's edges (and, for an undone rotation, its angle) in ever smaller steps
towards that one bank signal, and reports the item when the refined candidate comes
within the kind's threshold.  47 is the widest radius the index still answers in a few
milliseconds per hash at a million signals (a radius of 48 or more needs 5 times the
probes)."""

REFINE_ITEMS: Final = 3
"""At most this many bank items (the nearest) are refined per query picture."""

REFINE_BUDGET: Final = 48
"""At most this many PDQ hashes are spent refining one candidate towards one bank item."""

_KIND_CODES: Final = {kind: k for k, kind in enumerate(KINDS)}
_SCAN_MAX: Final = 4096  # banks up to this many signals are scanned in one array step, not indexed
_KEPT_TURNS: Final = 16  # turned copies a PictureQuery keeps (the ANGLES and a few refined ones)

# Refinement steps: an edge moves by this share of the candidate's side; an undone
# rotation's angle by this many degrees.
_REFINE_STEPS: Final = ((0.03, 1.0), (0.015, 0.5), (0.0075, 0.25))

RECROP_SCALES: Final = (0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
"""Side fractions of the original a centred crop of it may show.

For each, the query side cuts out where a stored crop would lie if the query were that
crop of the original, so crops between the stored ones are still matched.
"""

CORNER_RECROP_SCALES: Final = tuple(round(0.6 + 0.025 * k, 3) for k in range(1, 15))
"""Side fractions of the original a crop at one of its corners may show (0.625-0.95).

Twice as fine as :data:`RECROP_SCALES`: a corner crop puts all of a scale error on two
edges of the stored corner crop, where a centred crop splits it over four.
"""


@dataclass(frozen=True, slots=True)
class Signal:
    """One stored signal of a picture: a PDQ hash of the whole picture or of a sub-rectangle."""

    kind: str
    hash: PdqHash
    quality: int


@dataclass(frozen=True, slots=True)
class Region:
    """Where a candidate was cut from the query's reduced picture.

    The reduced picture is first turned by ``-angle`` degrees (0: as it is; Pillow's
    ``rotate`` with ``expand``); ``box`` is (top, left, bottom, right) in pixels of the
    turned picture, measured from its centre.
    """

    angle: float
    box: tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class QuerySignal:
    """One normalised candidate of a query picture.

    ``hashes`` holds the candidate's hash, or its 8 dihedral variants when rotations and
    flips are tried; ``targets`` are the bank kinds it may match (None: every kind);
    ``region`` where it was cut (None when the candidate came without its picture, as
    through the lookup API: such a candidate is matched as it is, never refined).
    """

    candidate: str
    hashes: tuple[PdqHash, ...]
    quality: int
    targets: frozenset[str] | None = None
    region: Region | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Refinement:
    """One refinement the matcher tried: a candidate moved towards one bank item's signal."""

    item: str
    kind: str
    candidate: str
    start: int
    end: int
    hashes: int


@dataclass(frozen=True, slots=True, order=True)
class RobustMatch:
    """A bank item that matched: its best distance, the bank kind and the query candidate."""

    distance: int
    item: str
    kind: str
    candidate: str


class BankFormatError(ValueError):
    """A bank file line cannot be read; the message names the line."""


# -- planes ----------------------------------------------------------------------------


def _upright(luma: LumaPlane) -> tuple[Float64Array, int]:
    plane = luma.plane
    o = luma.orientation
    if o.transpose:
        plane = plane.T
    if o.flip_rows:
        plane = plane[::-1]
    if o.flip_cols:
        plane = plane[:, ::-1]
    return np.ascontiguousarray(plane), luma.block


def _shrink(plane: Float64Array, block: int) -> tuple[Float64Array, int]:
    """Box-reduce by an integer factor, keeping the short side at least ``_WORK_MIN_SIDE``."""
    factor = 1
    while min(plane.shape) // (factor * 2) >= _WORK_MIN_SIDE:
        factor *= 2
    if factor == 1:
        return plane, block
    rows, cols = (plane.shape[0] // factor) * factor, (plane.shape[1] // factor) * factor
    reduced = plane[:rows, :cols].reshape(rows // factor, factor, cols // factor, factor).mean(axis=(1, 3))
    return reduced, block * factor


def _working_plane(source: ImageSource, limits: Limits) -> tuple[PdqResult, Float64Array, int]:
    luma = _luma(source, False, limits)
    whole = _result(luma)
    plane, block = _shrink(*_upright(luma))
    return whole, plane, block


def _hash_plane(plane: Float64Array, block: int) -> PdqResult:
    """PDQ of a (reduced) plane; each pixel stands for ``block`` x ``block`` original pixels."""
    full = (plane.shape[0] * block, plane.shape[1] * block)
    samples = downsample_64(np.ascontiguousarray(plane), full, block)
    coefficients = dct_16(samples)
    return PdqResult(bits_of(coefficients), quality_of(samples), coefficients)


def _query_hash(plane: Float64Array, block: int) -> PdqResult:
    """:func:`_hash_plane` for the query side: faster, equal to within float rounding.

    A query candidate is compared within a threshold, never bit for bit, so it may take
    :func:`downsample_64_gathered`; stored signals keep :func:`_hash_plane`, which the
    portal's script reproduces exactly.
    """
    full = (plane.shape[0] * block, plane.shape[1] * block)
    samples = downsample_64_gathered(plane, full, block)
    coefficients = dct_16(samples)
    return PdqResult(bits_of(coefficients), quality_of(samples), coefficients)


def _pixel_dihedral(plane: Float64Array, block: int) -> list[PdqHash]:
    """The PDQ hashes of the plane's 8 rotations and flips, each from its own samples.

    Turning the 16 x 16 DCT coefficients (:meth:`PdqResult.dihedral`) is exact only when
    PDQ's 64 x 64 samples of the turned picture are the turned samples, which PDQ's
    box filter (an even window is off-centre by half a pixel) does not guarantee.  A fine
    periodic texture (bricks, gravel, grass) has so little low-frequency energy that this
    half-pixel moves 30-90 bits; sampling each variant afresh does not.
    """
    full = (plane.shape[0] * block, plane.shape[1] * block)
    contiguous = np.ascontiguousarray(plane)
    return [bits_of(dct_16(downsample_64(contiguous, full, block, o))) for o in EXIF_ORIENTATIONS.values()]


def _box(shape: tuple[int, ...], fractions: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    rows, cols = shape[0], shape[1]
    left, top, right, bottom = fractions
    return (round(top * rows), round(left * cols), round(bottom * rows), round(right * cols))


def _crop(plane: Float64Array, box: tuple[int, int, int, int]) -> Float64Array:
    r0, c0, r1, c1 = box
    return plane[r0:r1, c0:c1]


def _big_enough(box: tuple[int, int, int, int]) -> bool:
    r0, c0, r1, c1 = box
    return min(r1 - r0, c1 - c0) >= _MIN_CANDIDATE_SIDE


# -- submit side -------------------------------------------------------------------------


def robust_signals(source: ImageSource, *, limits: Limits = DEFAULT_LIMITS) -> list[Signal]:
    """The signals to store for a picture: its PDQ, then the PDQ of each fixed crop.

    Crops whose quality is below :data:`QUALITY_FLOOR` (flat sky, a plain wall) are left
    out, so flat regions of different photos cannot collide.  Raises a
    :class:`HashingError` subclass for content that cannot be hashed.
    """
    return robust_signals_and_pdq(source, limits=limits)[1]


def robust_signals_and_pdq(
    source: ImageSource, *, limits: Limits = DEFAULT_LIMITS
) -> tuple[PdqResult, list[Signal]]:
    """:func:`robust_signals` with the whole picture's :class:`PdqResult` (what ``pdq_hash``
    gives for it), from one decode."""
    whole, plane, block = _working_plane(source, limits)
    return whole, [Signal(WHOLE, whole.hash, whole.quality), *_crop_signals(plane, block)]


def _crop_signals(plane: Float64Array, block: int) -> Iterator[Signal]:
    for kind, fractions in CROPS.items():
        box = _box(plane.shape, fractions)
        if not _big_enough(box):
            continue
        result = _hash_plane(_crop(plane, box), block)
        if result.quality >= QUALITY_FLOOR:
            yield Signal(kind, result.hash, result.quality)


# -- query side: finding the photo inside a frame ----------------------------------------

_FLAT_TOLERANCE: Final = 10.0  # grey levels a "one-colour" line may stray from its colour
_FLAT_SHARE: Final = 0.97  # share of a line's pixels that must be within the tolerance
_BAND_DEPTH: Final = 0.6  # a caption band covers at most this share of the picture's height


def _flat_lines(plane: Float64Array, axis: int) -> tuple[np.ndarray[Any, np.dtype[np.bool_]], Float64Array]:
    """For each row (axis 1) or column (axis 0): is it of one colour, and which colour."""
    # The colour of a line that is 97 % one colour is the median of every fourth pixel too.
    colour: Float64Array = np.median(plane[:, ::4] if axis == 1 else plane[::4, :], axis=axis)
    spread = np.abs(plane - (colour[:, None] if axis == 1 else colour[None, :]))
    flat: np.ndarray[Any, np.dtype[np.bool_]] = np.mean(spread <= _FLAT_TOLERANCE, axis=axis) >= _FLAT_SHARE
    return flat, colour


def _run_of(flat: np.ndarray[Any, np.dtype[np.bool_]], limit: int) -> int:
    """How many leading entries are True, at most ``limit``."""
    n = int(np.argmin(flat)) if not flat.all() else flat.shape[0]
    return max(0, min(n, limit))


def _margins(plane: Float64Array, same_colour: bool = True) -> tuple[int, int, int, int]:
    """How many one-colour rows/columns each side has: (top, left, bottom, right).

    With ``same_colour``, a side's margin ends at the first line that is not of one
    colour or is of another colour than the outermost line, so a black pad that meets a
    white document is stripped only up to the document; without, lines of any one colour
    are stripped.  Rows are stripped first, then columns of the rows left.
    """

    def flat_lines(lines: Float64Array) -> tuple[int, int]:
        if same_colour:
            first, last = np.median(lines[0]), np.median(lines[-1])
            lead = np.mean(np.abs(lines - first) <= _FLAT_TOLERANCE, axis=1) >= _FLAT_SHARE
            trail = np.mean(np.abs(lines - last) <= _FLAT_TOLERANCE, axis=1) >= _FLAT_SHARE
        else:
            lead = trail = _flat_lines(lines, axis=1)[0]
        limit = lines.shape[0] - _MIN_CANDIDATE_SIDE
        head = _run_of(lead, limit)
        return head, _run_of(trail[::-1], limit - head)

    rows = plane.shape[0]
    top, bottom = flat_lines(plane)
    left, right = flat_lines(plane[top : rows - bottom].T)
    return top, left, bottom, right


def _strips(plane: Float64Array) -> list[tuple[int, int, int, int]]:
    """Boxes left after stripping one-colour borders: each side its own, then evenly.

    Padding (``pad_square``, letterbox, a screenshot's photo slot) is centred, so the
    even hypothesis (the smaller margin of two opposite sides, on both) keeps a photo
    whose own edge on one side happens to be of the pad's colour.
    """
    rows, cols = plane.shape
    top, left, bottom, right = _margins(plane)
    vertical, horizontal = min(top, bottom), min(left, right)
    return [
        (top, left, rows - bottom, cols - right),
        (vertical, horizontal, rows - vertical, cols - horizontal),
    ]


def _busy(plane: Float64Array, threshold: float = 4.0) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Pixels with visible local change; flat backgrounds (UI, bands, bars) are not busy."""
    dy = np.zeros_like(plane)
    dx = np.zeros_like(plane)
    dy[1:, :] = np.abs(np.diff(plane, axis=0))
    dx[:, 1:] = np.abs(np.diff(plane, axis=1))
    change = np.maximum(dx, dy)
    busy: np.ndarray[Any, np.dtype[np.bool_]] = change > threshold
    return busy


def _runs(occupied: np.ndarray[Any, np.dtype[np.bool_]], min_gap: int) -> list[tuple[int, int]]:
    """Runs of occupied positions, merging runs separated by fewer than ``min_gap`` empty ones."""
    idx = np.flatnonzero(occupied)
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) > min_gap)
    starts = np.concatenate(([idx[0]], idx[breaks + 1]))
    ends = np.concatenate((idx[breaks], [idx[-1]])) + 1
    return [(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]


def _strip_any_colour(plane: Float64Array) -> tuple[int, int, int, int]:
    """The box left after removing lines of one colour, whatever colour, from each edge."""
    rows, cols = plane.shape
    top, left, bottom, right = _margins(plane, same_colour=False)
    return top, left, rows - bottom, cols - right


def _xy_cut(
    busy: np.ndarray[Any, np.dtype[np.bool_]], box: tuple[int, int, int, int], depth: int = 0
) -> list[tuple[int, int, int, int]]:
    """Recursive X-Y cut: split the box along rows or columns that are empty, down to blocks."""
    r0, c0, r1, c1 = box
    sub = busy[r0:r1, c0:c1]
    row_runs = _runs(sub.sum(axis=1) > max(1, 0.004 * (c1 - c0)), min_gap=max(2, (r1 - r0) // 100))
    col_runs = _runs(sub.sum(axis=0) > max(1, 0.004 * (r1 - r0)), min_gap=max(2, (c1 - c0) // 100))
    if not row_runs or not col_runs:
        return []
    if depth >= 6:
        return [(r0 + row_runs[0][0], c0 + col_runs[0][0], r0 + row_runs[-1][1], c0 + col_runs[-1][1])]
    if len(row_runs) > 1:
        parts = [(r0 + a, c0, r0 + b, c1) for a, b in row_runs]
    elif len(col_runs) > 1:
        parts = [(r0, c0 + a, r1, c0 + b) for a, b in col_runs]
    else:
        trimmed = (r0 + row_runs[0][0], c0 + col_runs[0][0], r0 + row_runs[0][1], c0 + col_runs[0][1])
        if trimmed == box:
            return [box]
        return _xy_cut(busy, trimmed, depth + 1)
    blocks: list[tuple[int, int, int, int]] = []
    for part in parts:
        blocks.extend(_xy_cut(busy, part, depth + 1))
    return blocks


def _band_cuts(plane: Float64Array) -> list[tuple[int, int, int, int]]:
    """Boxes below a caption band on top, or above one at the bottom (meme framing).

    A band ends where a row of one colour (the band's background) meets a row that is
    not of one colour, or of another colour (a photo whose own top rows are a flat sky
    or a black background).  The few deepest such edges in the outer 60 % are tried
    (a fixed-height caption over a small photo is half the picture);
    and, for a band whose colour the photo continues (a white document under a white
    band), the edge that a caption centred in its band implies: as far below the
    caption as the caption is below the top.
    """
    rows, cols = plane.shape
    flat, colour = _flat_lines(plane, axis=1)
    other = np.abs(np.diff(colour)) > _FLAT_TOLERANCE
    starts = np.flatnonzero(flat[:-1] & (~flat[1:] | other)) + 1  # row r-1 flat, row r not (or other colour)
    top = sorted((int(r) for r in starts if r <= _BAND_DEPTH * rows), reverse=True)[:3]
    ends = np.flatnonzero(flat[1:] & (~flat[:-1] | other)) + 1  # row r flat, row r-1 not (or another colour)
    bottom = sorted(int(r) for r in ends if r >= (1.0 - _BAND_DEPTH) * rows)[:3]
    for lines, out, flip in ((flat, top, False), (flat[::-1], bottom, True)):
        if not lines[0] or lines.all():
            continue
        first = int(np.argmin(lines))  # the caption's first row
        if not lines[first:].any():
            continue
        edge = first + first + int(np.argmax(lines[first:]))  # the caption's first row plus the row after it
        if edge <= _BAND_DEPTH * rows:
            out.append(rows - edge if flip else edge)
    boxes = [(r, 0, rows, cols) for r in top]
    boxes += [(0, 0, r, cols) for r in bottom]
    if top and bottom and bottom[0] > top[0]:
        boxes.append((top[0], 0, bottom[0], cols))
    return boxes


def _edge_boxes(
    plane: Float64Array, strength: float = 24.0, keep: int = 4
) -> list[tuple[int, int, int, int]]:
    """Rectangles outlined by two long parallel straight edges with the same extent.

    A photo pasted into a page (a screenshot's photo slot, a card) differs from the page
    along straight lines: two edges of the same length facing each other, top and
    bottom or left and right, outline it even where its inside is smooth or where page
    elements touch it (where a flat-gap cut cannot see it).
    """
    found: list[tuple[int, int, int, int]] = []
    for axis in (0, 1):
        # Rows of change between line r-1 and line r, along the other axis.
        change = np.abs(np.diff(plane, axis=axis))
        if axis == 1:
            change = change.T
        n_lines, length = change.shape[0] + 1, change.shape[1]
        min_len = max(_MIN_CANDIDATE_SIDE, round(0.12 * length))
        strong = change > strength
        # Close gaps of one or two pixels (JPEG ringing, a split edge), then find the runs.
        closed = strong.copy()
        closed[:, 1:-1] |= strong[:, :-2] & strong[:, 2:]
        closed[:, 1:-2] |= strong[:, :-3] & strong[:, 3:]
        padded = np.zeros((closed.shape[0], length + 2), dtype=np.int8)
        padded[:, 1:-1] = closed
        step = np.diff(padded, axis=1)
        lines, begins = np.nonzero(step == 1)
        ends = np.nonzero(step == -1)[1]
        long = (ends - begins) >= min_len
        segments = [
            (int(line) + 1, int(a), int(b))
            for line, a, b in zip(lines[long], begins[long], ends[long], strict=True)
        ]
        segments.sort(key=lambda s: s[2] - s[1], reverse=True)
        segments = segments[:48]
        tol = max(2, round(0.015 * length))
        for i, (p, a, b) in enumerate(segments):
            for q, a2, b2 in segments[i + 1 :]:
                if abs(a - a2) > tol or abs(b - b2) > tol or abs(q - p) < _MIN_CANDIDATE_SIDE:
                    continue
                lo, hi = min(p, q), max(p, q)
                start, end = (a + a2) // 2, (b + b2 + 1) // 2
                if hi - lo >= n_lines - 2 and end - start >= length - 2:
                    continue  # the picture's own frame
                found.append((lo, start, hi, end) if axis == 0 else (start, lo, end, hi))
    found.sort(key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), reverse=True)
    distinct: list[tuple[int, int, int, int]] = []
    for box in found:
        if all(max(abs(x - y) for x, y in zip(box, seen, strict=True)) > 3 for seen in distinct):
            distinct.append(box)
        if len(distinct) == keep:
            break
    return distinct


def _inside(box: tuple[int, int, int, int], inner: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    return (box[0] + inner[0], box[1] + inner[1], box[0] + inner[2], box[1] + inner[3])


def _stripped(plane: Float64Array, box: tuple[int, int, int, int]) -> list[tuple[int, int, int, int]]:
    """The box as it is, and stripped of its one-colour borders (each way)."""
    region = _crop(plane, box)
    return [box, *(_inside(box, inner) for inner in _strips(region))]


def photo_boxes(plane: Float64Array) -> list[tuple[int, int, int, int]]:
    """Boxes (top, left, bottom, right) that may hold the photo inside a framed picture.

    Padding and letterbox bars are stripped; a caption band is cut off; inside a
    screenshot, rectangles outlined by straight edges and the largest blocks an X-Y cut
    along flat gaps finds, each stripped of its own bars.
    """
    rows, cols = plane.shape
    boxes = [*_strips(plane), _strip_any_colour(plane)]
    for band in _band_cuts(plane):
        boxes.extend(_stripped(plane, band))
    small: list[tuple[int, int, int, int]] = []
    for r0, c0, r1, c1 in _edge_boxes(plane):
        # An edge between two pixels of the reduced plane is often split over two lines.
        small.extend(_stripped(plane, (r0 + 1, c0 + 1, r1 - 1, c1 - 1)))
    blocks = _xy_cut(_busy(plane), (0, 0, rows, cols))
    blocks.sort(key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), reverse=True)
    for block in blocks[:2]:
        if not _big_enough(block):
            continue
        stripped = _inside(block, _strip_any_colour(_crop(plane, block)))
        boxes.append(stripped)
        # A line of text just above or below the photo (a post's author, its buttons).
        for band in _band_cuts(_crop(plane, stripped)):
            inner = _inside(stripped, band)
            boxes.append(_inside(inner, _strip_any_colour(_crop(plane, inner))))
    seen: list[tuple[int, int, int, int]] = []
    for floor, group in ((_MIN_CANDIDATE_AREA, boxes), (_MIN_EDGED_AREA, small)):
        for box in group:
            area = (box[2] - box[0]) * (box[3] - box[1])
            if box == (0, 0, rows, cols) or not _big_enough(box):
                continue
            if any(max(abs(x - y) for x, y in zip(box, other, strict=True)) <= 2 for other in seen):
                continue  # a box within two pixels of another hashes alike
            if area < floor * rows * cols:
                continue
            seen.append(box)
    return seen


# -- query side: undoing a small rotation ------------------------------------------------


def _original_size(width: float, height: float, degrees: float, cropped: bool) -> tuple[float, float] | None:
    """The size of the picture before it was turned by ``degrees`` into ``width`` x ``height``.

    ``cropped``: the turned picture was cut to its largest inscribed rectangle (as AugLy's
    ``rotate`` does); otherwise it was expanded to hold all of it (corners filled).
    Both are linear in the original size for the angles tried here.
    """
    a = math.radians(abs(degrees))
    c, s = math.cos(a), math.sin(a)
    if cropped:
        w, h = width * c + height * s, width * s + height * c
        # The inscribed rectangle has this form only while the short side is long enough.
        if min(w, h) <= 2.0 * s * c * max(w, h):
            return None
        return w, h
    det = c * c - s * s
    w, h = (width * c - height * s) / det, (height * c - width * s) / det
    return (w, h) if min(w, h) > 0 else None


def _covered(box: tuple[float, float, float, float], turned: tuple[float, float], degrees: float) -> bool:
    """Does the box (centred coordinates of the original) lie inside the turned query rectangle?"""
    a = math.radians(abs(degrees))
    c, s = math.cos(a), math.sin(a)
    left, top, right, bottom = box
    half_w, half_h = turned[0] / 2.0 + 0.5, turned[1] / 2.0 + 0.5
    for x in (left, right):
        for y in (top, bottom):
            if abs(x * c + y * s) > half_w or abs(-x * s + y * c) > half_h:
                return False
            if abs(x * c - y * s) > half_w or abs(x * s + y * c) > half_h:
                return False
    return True


def _turned(plane: Float64Array, degrees: float) -> Float64Array:
    """The plane turned back by ``degrees`` (bilinear, expanded to hold all of it)."""
    im = Image.fromarray(plane.astype(np.float32), mode="F")
    return np.asarray(im.rotate(-degrees, resample=Image.Resampling.BILINEAR, expand=True), dtype=np.float64)


def _cut(plane: Float64Array, box: tuple[float, float, float, float]) -> Float64Array | None:
    """The part of ``plane`` inside a centred box (clipped to the plane), or None if too small."""
    rows, cols = plane.shape
    centre_r, centre_c = rows / 2.0, cols / 2.0
    r0, r1 = max(round(centre_r + box[0]), 0), min(round(centre_r + box[2]), rows)
    c0, c1 = max(round(centre_c + box[1]), 0), min(round(centre_c + box[3]), cols)
    if min(r1 - r0, c1 - c0) < _MIN_CANDIDATE_SIDE:
        return None
    return plane[r0:r1, c0:c1]


def _centred(shape: tuple[int, ...], box: tuple[int, int, int, int]) -> tuple[float, float, float, float]:
    """A (top, left, bottom, right) pixel box of a plane, measured from the plane's centre."""
    centre_r, centre_c = shape[0] / 2.0, shape[1] / 2.0
    return (box[0] - centre_r, box[1] - centre_c, box[2] - centre_r, box[3] - centre_c)


def _derotated(
    back: Float64Array, rows: int, cols: int, degrees: float
) -> Iterator[tuple[str, str | None, tuple[float, float, float, float]]]:
    """Regions of the original picture recovered from a query that was turned by ``degrees``.

    ``back`` is the ``rows`` x ``cols`` query turned back by ``degrees``.  Yields
    (hypothesis, bank kind or None for the whole picture, box in ``back`` from its
    centre).  For a query cut to its inscribed rectangle, the original's size follows
    from the query's, so each centre crop that the query still covers is cut out where
    the submit side cut it.
    """
    for cropped in (True, False):
        size = _original_size(cols, rows, degrees, cropped)
        if size is None:
            continue
        w, h = size
        regions: list[tuple[str | None, tuple[float, float, float, float]]] = []
        if cropped:
            regions.extend((kind, CROPS[kind]) for kind in ("centre80", "centre64", "centre50"))
        else:
            regions.append((None, (0.0, 0.0, 1.0, 1.0)))
        for kind, (fl, ft, fr, fb) in regions:
            box = ((fl - 0.5) * w, (ft - 0.5) * h, (fr - 0.5) * w, (fb - 0.5) * h)
            if cropped and not _covered(box, (cols, rows), degrees):
                continue
            centred = (box[1], box[0], box[3], box[2])
            if _cut(back, centred) is None:
                continue
            yield ("inscribed" if cropped else "expanded"), kind, centred


# -- query side: crops between the stored ones -----------------------------------------


def _recrop_hypotheses() -> list[tuple[str, str, tuple[float, float, float, float]]]:
    """(hypothesis, bank kind, box as fractions of the query) for every tried crop of the original.

    Under the hypothesis that the query shows the sub-rectangle ``shown`` of the original
    (centred, :data:`RECROP_SCALES` of each side, or at a corner,
    :data:`CORNER_RECROP_SCALES`), the largest stored crop
    inside it lies at a known place in the query.  A hypothesis equal to a stored crop is
    left out: the whole query already matches that crop.
    """
    out: list[tuple[str, str, tuple[float, float, float, float]]] = []
    hypotheses: list[tuple[float, str, tuple[float, float, float, float]]] = []
    for scale in RECROP_SCALES:
        margin = (1.0 - scale) / 2.0
        hypotheses.append((scale, "centre", (margin, margin, 1.0 - margin, 1.0 - margin)))
    for scale in CORNER_RECROP_SCALES:
        hypotheses.extend(
            [
                (scale, "tl", (0.0, 0.0, scale, scale)),
                (scale, "tr", (1.0 - scale, 0.0, 1.0, scale)),
                (scale, "bl", (0.0, 1.0 - scale, scale, 1.0)),
                (scale, "br", (1.0 - scale, 1.0 - scale, 1.0, 1.0)),
            ]
        )
    for scale, where, (left, top, right, bottom) in hypotheses:
        inside = [
            (kind, crop)
            for kind, crop in CROPS.items()
            if crop[0] >= left - 1e-9
            and crop[1] >= top - 1e-9
            and crop[2] <= right + 1e-9
            and crop[3] <= bottom + 1e-9
        ]
        if not inside:
            continue
        kind, (cl, ct, cr, cb) = max(inside, key=lambda kc: (kc[1][2] - kc[1][0]) * (kc[1][3] - kc[1][1]))
        if max(abs(cl - left), abs(ct - top), abs(cr - right), abs(cb - bottom)) < 0.02:
            continue
        w, h = right - left, bottom - top
        box = ((cl - left) / w, (ct - top) / h, (cr - left) / w, (cb - top) / h)
        out.append((f"{where}{scale * 100:g}", kind, box))
    return out


_RECROPS: Final = _recrop_hypotheses()


# -- query side: the candidates ----------------------------------------------------------


class PictureQuery:
    """A suspect picture's candidates (:class:`QuerySignal`), with the reduced picture
    they were cut from, so that :meth:`RobustMatcher.match` can refine a near miss.

    Iterating gives the candidates; ``whole`` is the picture's :class:`PdqResult` (what
    ``pdq_hash`` gives for it).  Made by :func:`picture_query`.
    """

    __slots__ = ("_turns", "block", "plane", "signals", "whole")

    def __init__(
        self, whole: PdqResult, signals: Iterable[QuerySignal], plane: Float64Array, block: int
    ) -> None:
        self.whole = whole
        self.signals: tuple[QuerySignal, ...] = tuple(signals)
        self.plane = plane
        self.block = block
        self._turns: dict[float, Float64Array] = {0.0: plane}

    def __iter__(self) -> Iterator[QuerySignal]:
        return iter(self.signals)

    def __len__(self) -> int:
        return len(self.signals)

    def __repr__(self) -> str:
        return f"<PictureQuery of {len(self.signals)} candidates>"

    def turned(self, degrees: float) -> Float64Array:
        """The reduced picture turned back by ``degrees`` (kept for the next call)."""
        key = round(degrees, 6)
        found = self._turns.get(key)
        if found is None:
            found = _turned(self.plane, key)
            if len(self._turns) < _KEPT_TURNS:  # refining tries new angles: keep memory bounded
                self._turns[key] = found
        return found

    def hash_region(self, region: Region) -> PdqResult | None:
        """The PDQ of a region of the picture, or None where it is too small or too flat."""
        piece = _cut(self.turned(region.angle), region.box)
        if piece is None:
            return None
        result = _query_hash(piece, self.block)
        return result if result.quality >= QUALITY_FLOOR else None


def query_signals(source: ImageSource, *, limits: Limits = DEFAULT_LIMITS) -> list[QuerySignal]:
    """The normalised candidates of a suspect picture, to match with :class:`RobustMatcher`.

    Candidates below :data:`QUALITY_FLOOR` are left out.  Raises a :class:`HashingError`
    subclass for content that cannot be hashed.
    """
    return list(picture_query(source, limits=limits))


def query_signals_and_pdq(
    source: ImageSource, *, limits: Limits = DEFAULT_LIMITS
) -> tuple[PdqResult, list[QuerySignal]]:
    """:func:`query_signals` with the whole picture's :class:`PdqResult` (what ``pdq_hash``
    gives for it), from one decode."""
    query = picture_query(source, limits=limits)
    return query.whole, list(query)


def picture_query(source: ImageSource, *, limits: Limits = DEFAULT_LIMITS) -> PictureQuery:
    """The suspect picture's candidates and its PDQ from one decode, ready for
    :meth:`RobustMatcher.match` to match and refine (a scanner needs both for every
    picture it finds).  Raises a :class:`HashingError` subclass for content that cannot
    be hashed."""
    whole, plane, block = _working_plane(source, limits)
    shape = plane.shape
    query = PictureQuery(whole, (), plane, block)
    out: list[QuerySignal] = []

    def add(name: str, region: Region, *, dihedral: bool, target: str | None) -> None:
        # The same cut and hash that refining starts from (PictureQuery.hash_region).
        result = query.hash_region(region)
        if result is None:
            return
        hashes = tuple(result.dihedral()) if dihedral else (result.hash,)
        targets = None if target is None else frozenset({target})
        out.append(QuerySignal(name, hashes, result.quality, targets, region))

    def add_box(name: str, box: tuple[int, int, int, int], *, dihedral: bool, target: str | None) -> None:
        add(name, Region(0.0, _centred(shape, box)), dihedral=dihedral, target=target)

    if whole.quality >= QUALITY_FLOOR:
        variants = dict.fromkeys([whole.hash, *_pixel_dihedral(plane, block)])
        region = Region(0.0, _centred(shape, (0, 0, shape[0], shape[1])))
        out.append(QuerySignal("whole", tuple(variants), whole.quality, None, region))
    for kind, fractions in CROPS.items():
        box = _box(shape, fractions)
        if _big_enough(box):
            add_box(f"crop:{kind}", box, dihedral=False, target=kind)
    for hypothesis, kind, fractions in _RECROPS:
        box = _box(shape, fractions)
        if _big_enough(box):
            add_box(f"recrop:{hypothesis}:{kind}", box, dihedral=False, target=kind)
    for i, box in enumerate(photo_boxes(plane)):
        add_box(f"photo:{i}", box, dihedral=True, target=None)
    for degrees in ANGLES:
        for hypothesis, target, centred in _derotated(query.turned(degrees), shape[0], shape[1], degrees):
            name = f"derotate:{degrees:g}:{hypothesis}:{target or WHOLE}"
            add(name, Region(degrees, centred), dihedral=False, target=target)
    query.signals = tuple(out)
    return query


# -- matching ----------------------------------------------------------------------------


class RobustMatcher:
    """A bank of pictures' signals, matched against query candidates with per-kind thresholds.

    Items are named by a string (a path, a case reference).  The signals live in one
    :class:`HammingIndex` per kind, so a candidate for one kind (a crop, a recrop) looks
    only among that kind's signals, and a bank of a million signals answers a query
    in milliseconds.
    """

    def __init__(self, thresholds: Mapping[str, int] | None = None) -> None:
        self.thresholds: dict[str, int] = dict(THRESHOLDS if thresholds is None else thresholds)
        unknown = set(self.thresholds) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown signal kinds: {', '.join(sorted(unknown))}")
        self._indexes: dict[str, HammingIndex] = {}
        self._items: list[str] = []
        self._kinds: list[str] = []
        self._words = np.zeros((0, 4), dtype=np.uint64)  # row i: the hash of signal i
        self._codes = np.zeros(0, dtype=np.intp)  # entry i: the position of signal i's kind in KINDS
        self._radius = max(self.thresholds.values(), default=0)

    def __len__(self) -> int:
        return len(self._items)

    # Pickled as its signals (for worker processes); the indexes are rebuilt where it lands.
    def __getstate__(self) -> dict[str, Any]:
        return {
            "thresholds": self.thresholds,
            "items": self._items,
            "kinds": self._kinds,
            "words": self._words[: len(self._items)].copy(),
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.thresholds = dict(state["thresholds"])
        self._radius = max(self.thresholds.values(), default=0)
        self._indexes = {}
        self._items = list(state["items"])
        self._kinds = list(state["kinds"])
        self._words = np.array(state["words"], dtype=np.uint64).reshape(-1, 4)
        self._codes = np.array([_KIND_CODES[kind] for kind in self._kinds], dtype=np.intp)
        kinds = np.array(self._kinds, dtype=object)
        for kind in dict.fromkeys(self._kinds):
            ids = np.flatnonzero(kinds == kind)
            self._index(kind).add_many(ids, self._words[ids])

    def _index(self, kind: str) -> HammingIndex:
        found = self._indexes.get(kind)
        if found is None:
            found = self._indexes[kind] = HammingIndex()
        return found

    def _store(self, words: np.ndarray[Any, np.dtype[np.uint64]]) -> None:
        """Keep the hashes (and kind codes) of the signals just appended to ``_items``/``_kinds``."""
        n = len(self._items) - len(words)
        if len(self._words) < n + len(words):
            size = max(2 * len(self._words), n + len(words), 64)
            grown = np.zeros((size, 4), dtype=np.uint64)
            grown[:n] = self._words[:n]
            self._words = grown
            codes = np.zeros(size, dtype=np.intp)
            codes[:n] = self._codes[:n]
            self._codes = codes
        self._words[n : n + len(words)] = words
        self._codes[n : n + len(words)] = [_KIND_CODES[kind] for kind in self._kinds[n:]]

    def _hash_of(self, signal_id: int) -> PdqHash:
        return PdqHash(int.from_bytes(self._words[signal_id].astype(">u8").tobytes(), "big"))

    def add(self, item: str, signals: Iterable[Signal]) -> None:
        """Store the signals of one bank item; kinds without a threshold are not stored."""
        by_kind: dict[str, tuple[list[int], list[PdqHash]]] = {}
        hashes: list[PdqHash] = []
        for signal in signals:
            if signal.kind not in KINDS:
                raise ValueError(f"unknown signal kind {signal.kind!r}")
            if signal.kind not in self.thresholds:
                continue
            ids, kind_hashes = by_kind.setdefault(signal.kind, ([], []))
            ids.append(len(self._items))
            kind_hashes.append(signal.hash)
            hashes.append(signal.hash)
            self._items.append(item)
            self._kinds.append(signal.kind)
        if hashes:
            self._store(np.array([h.to_words() for h in hashes], dtype=np.uint64))
            for kind, (ids, kind_hashes) in by_kind.items():
                self._index(kind).add_many(ids, kind_hashes)

    def add_filler(self, words: np.ndarray[Any, np.dtype[np.uint64]], kind: str = WHOLE) -> None:
        """Store hashes that belong to no named item (for measuring a large bank)."""
        start = len(self._items)
        self._items.extend([""] * len(words))
        self._kinds.extend([kind] * len(words))
        self._store(words)
        self._index(kind).add_many(np.arange(start, start + len(words), dtype=np.int64), words)

    def match(
        self,
        query: Iterable[QuerySignal],
        *,
        refine: bool = True,
        trace: list[Refinement] | None = None,
    ) -> list[RobustMatch]:
        """Every bank item some candidate matches, at its best distance, nearest first.

        Given a :class:`PictureQuery` (and ``refine``), a candidate that comes within
        :data:`REFINE_GATE` of a bank signal it may match, but not within that kind's
        threshold, is refined towards that signal (the :data:`REFINE_ITEMS` nearest
        items, :data:`REFINE_BUDGET` hashes each); a refined match names its candidate
        ``"<candidate>:refined"``.  ``trace`` collects every refinement tried.
        """
        candidates = list(query)
        picture = query if isinstance(query, PictureQuery) and refine else None
        if not candidates or not self._items:
            return []
        radius = max(self._radius, REFINE_GATE) if picture is not None else self._radius
        found = (
            self._scan(candidates, radius)
            if len(self._items) <= _SCAN_MAX
            else self._lookup(candidates, radius)
        )
        best: dict[str, RobustMatch] = {}
        near: dict[str, tuple[int, int, int, int]] = {}  # item -> (distance, candidate, variant, signal id)
        for owner, variant, sid, distance in found:
            item, kind = self._items[sid], self._kinds[sid]
            if not item:
                continue
            candidate = candidates[owner]
            if distance > self.thresholds[kind]:
                if candidate.region is not None and distance < near.get(item, (999,))[0]:
                    near[item] = (distance, owner, variant, sid)
                continue
            seen = best.get(item)
            if seen is None or (distance, kind) < (seen.distance, seen.kind):
                best[item] = RobustMatch(distance, item, kind, candidate.candidate)
        if picture is not None:
            todo = sorted((d, item, owner, variant, sid) for item, (d, owner, variant, sid) in near.items())
            for d, item, owner, variant, sid in [t for t in todo if t[1] not in best][:REFINE_ITEMS]:
                candidate, kind = candidates[owner], self._kinds[sid]
                limit = self.thresholds[kind]
                end, spent = _refine(
                    picture, candidate, candidate.hashes[variant], self._hash_of(sid), d, limit
                )
                if trace is not None:
                    trace.append(Refinement(item, kind, candidate.candidate, d, end, spent))
                if end <= limit:
                    best[item] = RobustMatch(end, item, kind, f"{candidate.candidate}:refined")
        return sorted(best.values())

    def _lookup(self, candidates: list[QuerySignal], radius: int) -> Iterator[tuple[int, int, int, int]]:
        """(candidate, variant, signal id, distance) within ``radius``, kind by kind through the indexes."""
        for kind, index in self._indexes.items():
            # Every candidate that may match this kind, looked up among this kind's signals only.
            owners: list[tuple[int, int]] = []
            hashes: list[PdqHash] = []
            for n, candidate in enumerate(candidates):
                if candidate.targets is None or kind in candidate.targets:
                    owners.extend((n, v) for v in range(len(candidate.hashes)))
                    hashes.extend(candidate.hashes)
            if hashes and len(index):
                for (owner, variant), matches in zip(owners, index.query_many(hashes, radius), strict=True):
                    for m in matches:
                        yield owner, variant, m.id, m.distance

    def _scan(self, candidates: list[QuerySignal], radius: int) -> Iterator[tuple[int, int, int, int]]:
        """:meth:`_lookup` for a small bank: every hash against every signal in one array step."""
        owners = [(n, v) for n, c in enumerate(candidates) for v in range(len(c.hashes))]
        words = np.array([h.to_words() for c in candidates for h in c.hashes], dtype=np.uint64)
        stored = self._words[: len(self._items)]
        distance = np.zeros((len(words), len(stored)), dtype=np.int32)
        for w in range(4):
            distance += np.bitwise_count(words[:, w, None] ^ stored[None, :, w])
        kind_of = self._codes[: len(self._items)]
        allowed = np.ones((len(candidates), len(KINDS)), dtype=bool)
        for n, c in enumerate(candidates):
            if c.targets is not None:
                allowed[n] = [kind in c.targets for kind in KINDS]
        owner_of = np.array([n for n, _ in owners], dtype=np.intp)
        rows, cols = np.nonzero((distance <= radius) & allowed[owner_of][:, kind_of])
        for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
            owner, variant = owners[row]
            yield owner, variant, col, int(distance[row, col])


def _moves(region: Region, share: float, degrees: float) -> list[Region]:
    """The regions one step away: each edge in or out by ``share`` of its side; the angle by ``degrees``."""
    top, left, bottom, right = region.box
    dr, dc = max(1.0, share * (bottom - top)), max(1.0, share * (right - left))
    out = []
    for i, step in ((0, dr), (1, dc), (2, dr), (3, dc)):
        for sign in (-1.0, 1.0):
            box = list(region.box)
            box[i] += sign * step
            out.append(Region(region.angle, (box[0], box[1], box[2], box[3])))
    if region.angle:
        out.extend(Region(region.angle + sign * degrees, region.box) for sign in (-1.0, 1.0))
    return out


def _refine(
    picture: PictureQuery, candidate: QuerySignal, near: PdqHash, target: PdqHash, start: int, limit: int
) -> tuple[int, int]:
    """Move the candidate's region towards ``target``: (best distance reached, hashes spent).

    A pattern search: try every one-step move, take the best that comes closer, and
    halve the step when none does; stop within ``limit`` or after
    :data:`REFINE_BUDGET` hashes.  ``near`` is the candidate's hash (or dihedral
    variant) that came close; the refined regions are hashed in the same orientation.
    """
    assert candidate.region is not None  # noqa: S101 - only candidates with a region are refined
    first = picture.hash_region(candidate.region)
    if first is None:
        return start, 1
    variants = first.dihedral() if len(candidate.hashes) > 1 else [first.hash]
    variant = min(range(len(variants)), key=lambda v: variants[v].distance(near))

    def distance(result: PdqResult) -> int:
        h = result.hash if variant == 0 else result.dihedral()[variant]
        return h.distance(target)

    region, best, spent = candidate.region, distance(first), 1
    for share, degrees in _REFINE_STEPS:
        while best > limit and spent < REFINE_BUDGET:
            improved: Region | None = None
            for move in _moves(region, share, degrees):
                if spent >= REFINE_BUDGET:
                    break
                result = picture.hash_region(move)
                spent += 1
                if result is None:
                    continue
                d = distance(result)
                if d < best:
                    best, improved = d, move
                    if best <= limit:
                        return best, spent
            if improved is None:
                break
            region = improved
    return min(best, start), spent


def match_file(
    path: str | os.PathLike[str], matcher: RobustMatcher, *, limits: Limits = DEFAULT_LIMITS
) -> list[RobustMatch]:
    """The bank items a picture file matches (read once, normalised, matched).

    Raises a :class:`HashingError` subclass for a file that cannot be hashed.
    """
    return matcher.match(picture_query(read_file_bytes(path, limits), limits=limits))


_WORKER_MATCHER: RobustMatcher | None = None


def _start_worker(matcher: RobustMatcher) -> None:
    global _WORKER_MATCHER  # one bank per worker process, set once
    _WORKER_MATCHER = matcher


def _match_one(path: str, limits: Limits) -> tuple[str, list[RobustMatch] | HashingError]:
    assert _WORKER_MATCHER is not None  # noqa: S101 - set by the pool's initializer
    try:
        return path, match_file(path, _WORKER_MATCHER, limits=limits)
    except HashingError as exc:
        return path, exc


def match_files(
    paths: Iterable[str], matcher: RobustMatcher, *, jobs: int = 1, limits: Limits = DEFAULT_LIMITS
) -> Iterator[tuple[str, list[RobustMatch] | HashingError]]:
    """:func:`match_file` for many files, in order: (path, matches) or (path, the error).

    A file that cannot be hashed never stops the batch.  ``jobs`` > 1 spreads the work over
    that many processes, each with its own copy of the bank (sent once per process).
    """
    if jobs <= 1:
        for path in paths:
            try:
                yield path, match_file(path, matcher, limits=limits)
            except HashingError as exc:
                yield path, exc
        return
    from concurrent.futures import ProcessPoolExecutor
    from functools import partial

    path_list = list(paths)
    chunk = max(1, min(8, len(path_list) // (jobs * 8)))
    with ProcessPoolExecutor(max_workers=jobs, initializer=_start_worker, initargs=(matcher,)) as pool:
        yield from pool.map(partial(_match_one, limits=limits), path_list, chunksize=chunk)


# -- bank files (``haven hash`` JSON Lines) ----------------------------------------------


def signals_of_record(record: Mapping[str, Any]) -> list[Signal]:
    """The signals in one ``haven hash`` record: ``pdq``, ``pdq_dihedral`` and ``extra``.

    Raises :class:`InvalidHashError` for a malformed hash and :class:`ValueError` for a
    malformed record.
    """
    out: list[Signal] = []
    quality = record.get("quality", 100)
    if not isinstance(quality, int) or isinstance(quality, bool):
        raise ValueError("'quality' must be a whole number")
    pdq = record.get("pdq")
    if not isinstance(pdq, str):
        raise ValueError("no 'pdq' hash")
    out.append(Signal(WHOLE, PdqHash.from_hex(pdq), quality))
    dihedral = record.get("pdq_dihedral", [])
    if not isinstance(dihedral, list) or not all(isinstance(h, str) for h in dihedral):
        raise ValueError("'pdq_dihedral' must be a list of hex hashes")
    out.extend(Signal(DIHEDRAL, PdqHash.from_hex(h), quality) for h in dihedral)
    extra = record.get("extra", [])
    if not isinstance(extra, list):
        raise ValueError("'extra' must be a list")
    for entry in extra:
        if not isinstance(entry, dict) or not isinstance(entry.get("kind"), str):
            raise ValueError("each 'extra' entry needs a 'kind' and a 'pdq'")
        kind, value = entry["kind"], entry.get("pdq")
        if kind not in CROPS:
            raise ValueError(f"unknown signal kind {kind!r}")
        if not isinstance(value, str):
            raise ValueError(f"the {kind!r} entry has no 'pdq' hash")
        out.append(Signal(kind, PdqHash.from_hex(value), QUALITY_FLOOR))
    return out


def load_bank(lines: Iterable[str], matcher: RobustMatcher | None = None) -> RobustMatcher:
    """A matcher holding every record of a ``haven hash`` JSON Lines bank.

    Records that report an error (files that could not be hashed) are skipped.  A line
    that is not such a record raises :class:`BankFormatError` naming the line.
    """
    import json

    bank = RobustMatcher() if matcher is None else matcher
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BankFormatError(f"line {number}: not JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise BankFormatError(f"line {number}: expected a JSON object")
        if "error" in record and "pdq" not in record:
            continue
        path = record.get("path")
        if not isinstance(path, str):
            raise BankFormatError(f"line {number}: no 'path'")
        try:
            signals = signals_of_record(record)
        except (InvalidHashError, ValueError) as exc:
            raise BankFormatError(f"line {number}: {exc}") from None
        bank.add(path, signals)
    return bank
