"""The cached per-size PDQ operators equal, bit for bit, the plain per-row construction.

The operators are built with whole-array numpy steps for speed; every hash of a crop
depends on their exact float values, so they are checked against the straightforward
loop they replaced (one row at a time, then each row's non-zero run).
"""

from __future__ import annotations

import numpy as np
import pytest

from haven.signals import _pdq


def _axis_operator_by_rows(n: int) -> np.ndarray:
    window = (n + 127) // 128
    half = (window + 2) // 2
    idx = np.arange(n)
    lo = np.maximum(0, idx - (window - half))
    hi = np.minimum(n - 1, idx + half - 1)
    inv = 1.0 / (hi - lo + 1)
    samples = ((np.arange(64) + 0.5) * n / 64).astype(np.int64)
    diff = np.zeros((64, n + 1))
    ends = np.empty(64, dtype=np.int64)
    for r, s in enumerate(samples):
        ks = np.arange(lo[s], hi[s] + 1)
        weight = inv[s] * inv[ks]
        np.add.at(diff[r], lo[ks], weight)
        np.add.at(diff[r], hi[ks] + 1, -weight)
        ends[r] = hi[hi[s]] + 1
    op = np.cumsum(diff[:, :n], axis=1)
    op[np.arange(n)[None, :] >= ends[:, None]] = 0.0
    return op


def _runs_by_rows(n: int, block: int, reverse: bool) -> tuple[list[int], list[np.ndarray]]:
    op = _axis_operator_by_rows(n)
    if reverse:
        op = op[:, ::-1]
    if block > 1:
        op = np.add.reduceat(op, np.arange(0, n, block), axis=1)
    starts, weights = [], []
    for row in op:
        nonzero = np.flatnonzero(row)
        starts.append(int(nonzero[0]))
        weights.append(row[nonzero[0] : nonzero[-1] + 1])
    return starts, weights


@pytest.mark.parametrize("n", [5, 6, 63, 64, 65, 127, 128, 129, 255, 256, 333, 511, 640, 1000, 1024, 2049])
def test_axis_operator_is_the_per_row_construction(n: int) -> None:
    expected = _axis_operator_by_rows(n)
    got = _pdq._axis_operator.__wrapped__(n)
    assert got.shape == expected.shape
    assert np.array_equal(got.view(np.int64), expected.view(np.int64))


@pytest.mark.parametrize("n", [5, 77, 256, 333, 640, 1023, 2049])
@pytest.mark.parametrize("block", [1, 2, 3, 4, 8, 16, 32])
@pytest.mark.parametrize("reverse", [False, True])
def test_band_holds_the_per_row_runs(n: int, block: int, reverse: bool) -> None:
    starts, weights = _runs_by_rows(n, block, reverse)
    band = _pdq._band.__wrapped__(n, block, reverse)
    assert band.n == -(-n // block)
    assert list(band.starts) == starts
    for got, expected in zip(band.weights, weights, strict=True):
        assert np.array_equal(got.view(np.int64), expected.view(np.int64))
