"""Refining near misses: a crop or turn between the query side's grid points is still matched,
within the stated limits, and refining never turns a near stranger into a match."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from haven.signals import (
    REFINE_BUDGET,
    REFINE_GATE,
    REFINE_ITEMS,
    THRESHOLDS,
    WHOLE,
    PdqHash,
    PictureQuery,
    Refinement,
    RobustMatcher,
    Signal,
    picture_query,
    query_signals,
    robust_signals,
)
from haven.signals._pdq import downsample_64, downsample_64_gathered

from .test_robust import _crop, _jpeg, _rotate


@pytest.fixture(scope="module")
def bridge(vectors: Path) -> Image.Image:
    return Image.open(vectors / "pdq" / "reg-test-input" / "dih" / "bridge-1-original.jpg").convert("RGB")


@pytest.fixture(scope="module")
def bank(bridge: Image.Image) -> RobustMatcher:
    matcher = RobustMatcher()
    matcher.add("bridge", robust_signals(np.asarray(bridge)))
    return matcher


# Between the grid points: a 72 % centre crop (recrops at 70 % and 75 %) and a turn of 3.7
# degrees (the query side undoes 5, 7.5 and 10).  Neither is matched without refining.
OFF_GRID = {
    "centre crop 72 %": _crop((0.14, 0.14, 0.86, 0.86)),
    "turned -3.7 degrees": _rotate(-3.7),
}


@pytest.mark.parametrize("edit", list(OFF_GRID))
def test_an_edit_between_the_grid_points_is_matched_by_refining(
    bridge: Image.Image, bank: RobustMatcher, edit: str
) -> None:
    query = picture_query(_jpeg(OFF_GRID[edit](bridge)))
    assert bank.match(query, refine=False) == []  # the grid alone misses it
    trace: list[Refinement] = []
    (found,) = bank.match(query, trace=trace)
    assert found.item == "bridge"
    assert found.candidate.endswith(":refined")
    assert found.distance <= THRESHOLDS[found.kind]
    (step,) = trace
    assert THRESHOLDS[step.kind] < step.start <= REFINE_GATE
    assert step.end == found.distance
    assert 1 <= step.hashes <= REFINE_BUDGET


def test_candidates_without_their_picture_are_matched_as_they_are(
    bridge: Image.Image, bank: RobustMatcher
) -> None:
    # As through the lookup API: the candidates arrive without the picture they came from.
    query = picture_query(_jpeg(OFF_GRID["centre crop 72 %"](bridge)))
    bare = [dataclasses.replace(c, region=None) for c in query]
    trace: list[Refinement] = []
    assert bank.match(bare, trace=trace) == []
    assert trace == []
    assert bare == query_signals(_jpeg(OFF_GRID["centre crop 72 %"](bridge)))  # regions do not compare


def _flipped(h: PdqHash, bits: np.ndarray) -> PdqHash:
    value = h.value
    for b in bits:
        value ^= 1 << int(b)
    return PdqHash(value)


def test_refining_is_bounded_and_does_not_make_near_strangers_match(bridge: Image.Image) -> None:
    # Five decoys, each every signal of the photo with 40 of its 256 bits turned: near enough
    # to be refined towards, but no region of the photo is within the threshold of them.
    rng = np.random.default_rng(5)
    signals = robust_signals(np.asarray(bridge))
    decoys = RobustMatcher()
    for k in range(5):
        turned = [_flipped(s.hash, rng.choice(256, 40, replace=False)) for s in signals]
        decoys.add(f"decoy{k}", [Signal(s.kind, h, s.quality) for s, h in zip(signals, turned, strict=True)])
    trace: list[Refinement] = []
    assert decoys.match(picture_query(_jpeg(bridge, 95)), trace=trace) == []
    assert len(trace) == REFINE_ITEMS  # only the nearest few items are refined
    assert all(t.hashes <= REFINE_BUDGET for t in trace)
    assert all(t.end > THRESHOLDS[t.kind] for t in trace)
    # A query picture with nothing near is not refined at all.
    trace.clear()
    rng2 = np.random.default_rng(8)
    noise = (rng2.random((300, 300, 3)) * 255).astype(np.uint8)
    decoys.match(picture_query(noise), trace=trace)
    assert trace == []


def test_a_picture_query_iterates_its_candidates_and_carries_the_pdq(bridge: Image.Image) -> None:
    data = _jpeg(bridge)
    query = picture_query(data)
    assert isinstance(query, PictureQuery)
    assert list(query) == query_signals(data)
    assert len(query) == len(query_signals(data))
    assert query.signals[0].candidate == "whole"
    assert query.whole.hash in query.signals[0].hashes
    assert all(c.region is not None for c in query)
    assert RobustMatcher({WHOLE: 31}).match(query) == []  # an empty bank matches nothing


@pytest.mark.parametrize("block", [1, 2, 4])
def test_the_gathered_downsample_equals_the_banded_one_to_float_rounding(block: int) -> None:
    rng = np.random.default_rng(block)
    for _ in range(40):
        rows, cols = (int(x) for x in rng.integers(5, 700, size=2))
        plane = rng.random((rows, cols)) * 255.0
        full = (rows * block, cols * block)
        banded = downsample_64(plane, full, block)
        gathered = downsample_64_gathered(plane[:, :], full, block)
        np.testing.assert_allclose(gathered, banded, rtol=0, atol=1e-9)
    # A view (a crop of a larger plane) gives the same as its contiguous copy.
    big = rng.random((400, 500)) * 255.0
    view = big[37:311, 55:480]
    np.testing.assert_allclose(
        downsample_64_gathered(view, (274 * block, 425 * block), block),
        downsample_64(np.ascontiguousarray(view), (274 * block, 425 * block), block),
        rtol=0,
        atol=1e-9,
    )


def test_a_small_bank_scanned_and_a_large_one_indexed_give_the_same_matches(bridge: Image.Image) -> None:
    # Up to a few thousand signals the matcher compares every pair at once; above, it asks each
    # kind's index. Filler hashes (belonging to no item) push the same bank over the line.
    bank, large = RobustMatcher(), RobustMatcher()
    for matcher in (bank, large):
        matcher.add("bridge", robust_signals(np.asarray(bridge)))
    rng = np.random.default_rng(11)
    filler = rng.integers(0, 2**63, size=(6000, 4), dtype=np.uint64) * np.uint64(2)
    for k, kind in enumerate(("pdq", "centre64", "corner60_tl")):
        large.add_filler(filler[k::3], kind)
        bank.add_filler(filler[k::3][:1], kind)  # the small one stays small
    assert len(bank) < 4096 < len(large)
    edits = [*OFF_GRID.values(), _crop((0.0, 0.0, 0.6, 0.6)), _crop((0.3, 0.3, 1.0, 1.0)), lambda im: im]
    for edit in edits:
        query = picture_query(_jpeg(edit(bridge)))
        for refine in (False, True):
            small_trace: list[Refinement] = []
            large_trace: list[Refinement] = []
            small = bank.match(query, refine=refine, trace=small_trace)
            assert small == large.match(query, refine=refine, trace=large_trace)
            assert small_trace == large_trace
        assert [m.item for m in bank.match(query)] == ["bridge"]


def test_a_matcher_pickles_with_its_signals_and_matches_alike(bridge: Image.Image) -> None:
    import pickle

    matcher = RobustMatcher({kind: 29 for kind in THRESHOLDS})
    matcher.add("bridge", robust_signals(np.asarray(bridge)))
    matcher.add_filler(
        np.random.default_rng(2).integers(0, 2**63, size=(5000, 4), dtype=np.uint64), "centre80"
    )
    copy = pickle.loads(pickle.dumps(matcher))
    assert len(copy) == len(matcher)
    assert copy.thresholds == matcher.thresholds
    for edit in (*OFF_GRID.values(), _crop((0.1, 0.1, 0.9, 0.9))):
        query = picture_query(_jpeg(edit(bridge)))
        assert copy.match(query) == matcher.match(query)
        assert copy.match(query, refine=False) == matcher.match(query, refine=False)
