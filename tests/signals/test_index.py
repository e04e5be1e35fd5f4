"""HammingIndex and DigestIndex: exact, dynamic, safe to read while writing, durable."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from haven.signals import (
    DigestIndex,
    DuplicateIdError,
    HammingIndex,
    IndexFileError,
    Match,
    Md5,
    PdqHash,
    Sha256,
    md5,
    pdq_hash,
    sha256,
)

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Layouts put the same entries in different tiers: the main segment, the delta
# segment and the directly scanned buffer all have to agree with brute force.
LAYOUTS = ("main", "delta", "buffer", "mixed")


# -- helpers ----------------------------------------------------------------------


def balanced(rng: np.random.Generator) -> int:
    """A random 256-bit value with exactly 128 one-bits, like a real PDQ hash."""
    bits = rng.permutation(256)[:128]
    return sum(1 << int(b) for b in bits)


def swap_pair(rng: np.random.Generator, v: int) -> int:
    """Turn one 1-bit off and one 0-bit on: 2 bits away, still 128 ones."""
    one = zero = -1
    while one < 0 or not v >> one & 1:
        one = int(rng.integers(256))
    while zero < 0 or v >> zero & 1:
        zero = int(rng.integers(256))
    return v ^ (1 << one) ^ (1 << zero)


def flip_spread(rng: np.random.Generator, value: int, distance: int, spread: str) -> int:
    """``value`` with exactly ``distance`` bits flipped, shared among the 16 chunks as
    ``spread`` says.  "even" puts as many flips in every chunk as possible, which
    leaves the pigeonhole argument the least slack; "lumped" fills few chunks."""
    per_chunk = [0] * 16
    if spread == "even":
        order = rng.permutation(16)
        for k in range(distance):
            per_chunk[int(order[k % 16])] += 1
    elif spread == "lumped":
        order = rng.permutation(16)
        left = distance
        for c in order:
            take = min(16, left)
            per_chunk[int(c)] = take
            left -= take
    else:
        flips = rng.permutation(256)[:distance]
        for b in flips:
            per_chunk[int(b) // 16] += 1
    out = value
    for c, k in enumerate(per_chunk):
        for b in rng.permutation(16)[:k]:
            out ^= 1 << (c * 16 + int(b))
    assert (out ^ value).bit_count() == distance
    return out


def brute(bank: dict[int, int], query: int, radius: int) -> list[Match]:
    return sorted(
        Match(distance=(v ^ query).bit_count(), id=i)
        for i, v in bank.items()
        if (v ^ query).bit_count() <= radius
    )


def build(bank: dict[int, int], layout: str) -> HammingIndex:
    """An index holding ``bank``, its entries placed in the tiers ``layout`` names."""
    ids = list(bank)
    hashes = [PdqHash(bank[i]) for i in ids]
    if layout == "buffer":
        index = HammingIndex(buffer_size=max(1, len(ids)))
        index.add_many(ids, hashes)
    elif layout == "main":
        index = HammingIndex(buffer_size=8)
        index.add_many(ids, hashes)
        index.compact()
    elif layout == "delta":
        index = HammingIndex(buffer_size=1, delta_min=len(ids) + 1)
        index.add_many(ids, hashes)
    else:
        index = HammingIndex(buffer_size=5, delta_min=40)
        third = len(ids) // 3
        index.add_many(ids[:third], hashes[:third])
        for i, h in zip(ids[third:], hashes[third:], strict=True):
            index.add(i, h)
    assert len(index) == len(bank)
    return index


@st.composite
def banks(draw: st.DrawFn, clustered: bool) -> tuple[dict[int, int], np.random.Generator]:
    """Uniform random hashes, or 128-one-bit hashes where families of near
    duplicates share most of their chunks (buckets far fuller than average)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(0, 400))
    ids: set[int] = set()
    while len(ids) < n:
        ids.add(int(rng.integers(0, 2**63 - 1, endpoint=True)))
    values: list[int] = []
    while len(values) < n:
        if clustered:
            base = balanced(rng)
            for _ in range(int(rng.integers(1, 30))):
                v = base
                for _ in range(int(rng.integers(0, 5))):
                    v = swap_pair(rng, v)
                values.append(v)
        else:
            values.append(int.from_bytes(rng.bytes(32), "big"))
    return dict(zip(sorted(ids), values[:n], strict=True)), rng


def planted(
    rng: np.random.Generator, bank: dict[int, int], query: int, spread: str, clustered: bool
) -> dict[int, int]:
    """``bank`` plus one entry at every distance 0-31 from ``query`` and decoys at 32-40."""
    out = dict(bank)
    next_id = max(bank, default=0) + 1
    for distance in [*range(32), *range(32, 41)]:
        out[next_id] = flip_spread(rng, query, distance, spread)
        next_id += 1
    if clustered:  # and a family around the query's nearest neighbour
        base = out[next_id - 41]
        for _ in range(10):
            out[next_id] = flip_spread(rng, base, int(rng.integers(1, 8)), "random")
            next_id += 1
    return out


# -- exactness -------------------------------------------------------------------


@FAST
@given(
    data=banks(clustered=False),
    layout=st.sampled_from(LAYOUTS),
    spread=st.sampled_from(["even", "lumped", "random"]),
)
def test_it_equals_brute_force_on_uniform_banks_with_planted_neighbours(
    data: tuple[dict[int, int], np.random.Generator], layout: str, spread: str
) -> None:
    bank, rng = data
    query = int.from_bytes(rng.bytes(32), "big")
    bank = planted(rng, bank, query, spread, clustered=False)
    index = build(bank, layout)
    for radius in range(32):
        got = index.query(PdqHash(query), radius)
        assert got == brute(bank, query, radius), radius
        assert len(got) >= radius + 1  # every planted neighbour within the radius


@FAST
@given(
    data=banks(clustered=True),
    layout=st.sampled_from(LAYOUTS),
    spread=st.sampled_from(["even", "lumped", "random"]),
)
def test_it_equals_brute_force_on_clustered_balanced_banks(
    data: tuple[dict[int, int], np.random.Generator], layout: str, spread: str
) -> None:
    bank, rng = data
    query = balanced(rng) if not bank or rng.random() < 0.5 else int(rng.choice(list(bank.values())))
    bank = planted(rng, bank, query, spread, clustered=True)
    index = build(bank, layout)
    for radius in range(32):
        assert index.query(PdqHash(query), radius) == brute(bank, query, radius), radius


@FAST
@given(
    data=banks(clustered=False),
    layout=st.sampled_from(LAYOUTS),
    spread=st.sampled_from(["even", "lumped", "random"]),
)
def test_radii_up_to_64_stay_exact(
    data: tuple[dict[int, int], np.random.Generator], layout: str, spread: str
) -> None:
    bank, rng = data
    query = int.from_bytes(rng.bytes(32), "big")
    next_id = max(bank, default=0) + 1
    for distance in range(24, 73):
        bank[next_id] = flip_spread(rng, query, distance, spread)
        next_id += 1
    index = build(bank, layout)
    for radius in range(32, 65):
        assert index.query(PdqHash(query), radius) == brute(bank, query, radius), radius


@FAST
@given(data=banks(clustered=True), radius=st.integers(0, 64))
def test_query_many_answers_each_query_like_query(
    data: tuple[dict[int, int], np.random.Generator], radius: int
) -> None:
    bank, rng = data
    assume(bank)
    values = list(bank.values())
    queries = [flip_spread(rng, values[int(rng.integers(len(values)))], int(rng.integers(0, 40)), "random")]
    queries += [balanced(rng) for _ in range(3)]
    queries = queries * 30  # more than one internal batch
    index = build(bank, "mixed")
    answers = index.query_many([PdqHash(q) for q in queries], radius)
    assert answers == [brute(bank, q, radius) for q in queries]
    words = np.array([PdqHash(q).to_words() for q in queries], dtype=np.uint64)
    assert index.query_many(words, radius) == answers


def test_results_are_sorted_by_distance_then_id() -> None:
    index = HammingIndex()
    base = PdqHash((1 << 128) - 1)
    index.add_many([30, 10, 20, 5], [PdqHash(base.value ^ 0b11), base, PdqHash(base.value ^ 0b1), base])
    assert index.query(base, 31) == [Match(0, 5), Match(0, 10), Match(1, 20), Match(2, 30)]
    assert [(m.id, m.distance) for m in index.query(base, 1)] == [(5, 0), (10, 0), (20, 1)]


def test_an_empty_index_matches_nothing() -> None:
    index = HammingIndex()
    assert index.query(PdqHash(0)) == []
    assert index.query_many([PdqHash(0), PdqHash(1)], 64) == [[], []]
    assert len(index) == 0
    assert 0 not in index


def test_a_hash_and_its_complement_are_256_bits_apart() -> None:
    # 256 must not wrap to 0 anywhere in the popcount.
    index = HammingIndex(buffer_size=1)
    index.add_many([1, 2], [PdqHash(0), PdqHash(2**256 - 1)])
    assert index.query(PdqHash(0), 64) == [Match(0, 1)]
    index.compact()
    assert index.query(PdqHash(2**256 - 1), 64) == [Match(0, 2)]


# -- dihedral queries ------------------------------------------------------------


def photo(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(8, 8), dtype=np.uint8)
    return np.kron(small, np.ones((16, 16), dtype=np.uint8))


def test_dihedral_query_finds_a_rotated_copy_at_its_best_distance() -> None:
    result = pdq_hash(photo(1))
    rotated = pdq_hash(np.rot90(photo(1))).hash
    index = HammingIndex()
    index.add_many([7, 8], [rotated, pdq_hash(photo(2)).hash])
    plain = index.query(result, 31)
    both = index.query(result, 31, dihedral=True)
    assert 7 in [m.id for m in both]
    assert 7 not in [m.id for m in plain]
    best = min(v.distance(rotated) for v in result.dihedral())
    assert [m for m in both if m.id == 7] == [Match(best, 7)]


@FAST
@given(data=banks(clustered=False), radius=st.integers(0, 64))
def test_query_any_reports_each_id_once_at_its_best_distance(
    data: tuple[dict[int, int], np.random.Generator], radius: int
) -> None:
    bank, rng = data
    query = int.from_bytes(rng.bytes(32), "big")
    variants = [flip_spread(rng, query, int(rng.integers(0, 200)), "random") for _ in range(8)]
    bank = planted(rng, bank, query, "random", clustered=False)
    index = build(bank, "mixed")
    best: dict[int, int] = {}
    for v in variants:
        for m in brute(bank, v, radius):
            best[m.id] = min(best.get(m.id, 999), m.distance)
    assert index.query_any([PdqHash(v) for v in variants], radius) == sorted(
        Match(d, i) for i, d in best.items()
    )


def test_dihedral_needs_a_pdq_result() -> None:
    with pytest.raises(TypeError, match="PdqResult"):
        HammingIndex().query(PdqHash(0), dihedral=True)


def test_query_any_needs_at_least_one_hash() -> None:
    with pytest.raises(ValueError, match="at least one"):
        HammingIndex().query_any([])


# -- updates ---------------------------------------------------------------------


def test_an_added_hash_matches_the_next_query() -> None:
    index = HammingIndex(buffer_size=2, delta_min=3)
    for i in range(20):
        h = PdqHash(i * 0x1234567 << 100)
        index.add(i, h)
        assert Match(0, i) in index.query(h, 0)
        assert i in index
    assert len(index) == 20


def test_a_removed_id_never_matches_again_in_any_tier() -> None:
    index = HammingIndex(buffer_size=3, delta_min=5)
    h = PdqHash(2**200 + 12345)
    ids = list(range(40))
    index.add_many(ids[:20], [h] * 20)
    for i in ids[20:]:
        index.add(i, h)  # spread over main, delta and buffer
    for i in ids:
        index.remove(i)
        assert i not in index
        assert i not in [m.id for m in index.query(h, 64)]
        index.add(1000 + i, PdqHash(i))  # later writes and rebuilds must not bring it back
        assert i not in [m.id for m in index.query(h, 64)]
    index.compact()
    assert not [m for m in index.query(h, 64) if m.id < 1000]


def test_a_removed_id_can_be_added_again_with_a_new_hash() -> None:
    index = HammingIndex(buffer_size=2, delta_min=4)
    old, new = PdqHash(0), PdqHash(2**256 - 1)
    index.add_many(range(10), [old] * 10)
    index.compact()
    index.remove(3)
    index.add(3, new)
    assert 3 in index
    assert [m.id for m in index.query(old, 0)] == [0, 1, 2, 4, 5, 6, 7, 8, 9]
    assert index.query(new, 0) == [Match(0, 3)]
    index.remove(3)
    index.add(3, old)
    assert [m.id for m in index.query(old, 0)] == list(range(10))
    assert len(index) == 10


def test_adding_an_id_that_is_present_raises_and_changes_nothing() -> None:
    index = HammingIndex()
    index.add(1, PdqHash(5))
    with pytest.raises(DuplicateIdError):
        index.add(1, PdqHash(6))
    with pytest.raises(DuplicateIdError):
        index.add_many([2, 1], [PdqHash(7), PdqHash(8)])
    with pytest.raises(DuplicateIdError, match="more than once"):
        index.add_many([3, 3], [PdqHash(7), PdqHash(8)])
    assert len(index) == 1
    assert 2 not in index
    assert index.query(PdqHash(5), 0) == [Match(0, 1)]


def test_removing_an_unknown_id_raises_key_error() -> None:
    index = HammingIndex()
    index.add(1, PdqHash(5))
    with pytest.raises(KeyError):
        index.remove(2)
    index.remove(1)
    with pytest.raises(KeyError):
        index.remove(1)
    with pytest.raises(KeyError):
        index.remove_many([1])


def test_remove_many_removes_all_or_nothing() -> None:
    index = HammingIndex(buffer_size=2, delta_min=2)
    index.add_many(range(10), [PdqHash(i) for i in range(10)])
    with pytest.raises(KeyError):
        index.remove_many([1, 2, 99])
    assert len(index) == 10
    index.remove_many([1, 2, 9])
    assert len(index) == 7
    assert [m.id for m in index.query(PdqHash(0), 64)] == [0, 4, 8, 3, 5, 6, 7]


def test_removals_during_a_background_merge_still_apply(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hold the background merge at its start, write meanwhile, then let it land."""
    from haven.signals import _index

    gate = threading.Event()
    build = _index._Segment.build

    def held_build(words: np.ndarray, ids: np.ndarray) -> _index._Segment:
        if threading.current_thread().name == "haven-index-merge":
            gate.wait(10)
        return build(words, ids)

    monkeypatch.setattr(_index._Segment, "build", staticmethod(held_build))
    index = HammingIndex(buffer_size=2, delta_min=4)
    h = PdqHash(2**255 + 77)
    index.add_many(range(10), [h] * 10)  # straight into main
    for i in range(10, 20):
        index.add(i, h)  # fills, folds and freezes a delta: a merge starts and waits
    assert index._merger is not None
    assert index._state.frozen
    for i in (0, 5, 11, 12, 19):
        index.remove(i)
    index.add(5, PdqHash(0))
    expected = [i for i in range(20) if i not in (0, 5, 11, 12, 19)]
    assert [m.id for m in index.query(h, 0)] == expected
    gate.set()
    index._wait_for_merge()
    while index._state.frozen:  # a merge started by a later fold may follow
        index._wait_for_merge()
    assert [m.id for m in index.query(h, 0)] == expected
    assert index.query(PdqHash(0), 0) == [Match(0, 5)]
    assert len(index) == len(expected) + 1
    for i in (0, 11, 12, 19):
        assert i not in index


def test_many_removals_from_main_are_dropped_by_a_background_rebuild() -> None:
    index = HammingIndex(buffer_size=4, delta_min=3)
    index.add_many(range(40), [PdqHash(i << 8) for i in range(40)])
    assert index._state.main.n == 40
    for i in range(0, 40, 3):
        index.remove(i)
    index._wait_for_merge()
    kept = [i for i in range(40) if i % 3]
    assert index._state.main.n < 40  # dead rows were dropped, not just hidden
    assert [m.id for m in index.query_any([PdqHash(i << 8) for i in range(40)], 0)] == kept
    assert len(index) == len(kept)


class IndexMachine(RuleBasedStateMachine):
    """Any sequence of writes leaves the index answering like a plain dict would."""

    @initialize(buffer_size=st.integers(1, 6), delta_min=st.integers(1, 12))
    def start(self, buffer_size: int, delta_min: int) -> None:
        self.index = HammingIndex(buffer_size=buffer_size, delta_min=delta_min)
        self.model: dict[int, int] = {}
        self.rng = np.random.default_rng(len(self.model))
        self.centre = balanced(self.rng)

    def near(self, distance: int) -> int:
        return flip_spread(self.rng, self.centre, distance, "random")

    @rule(id_=st.integers(0, 30), distance=st.integers(0, 40))
    def add(self, id_: int, distance: int) -> None:
        h = self.near(distance)
        if id_ in self.model:
            with pytest.raises(DuplicateIdError):
                self.index.add(id_, PdqHash(h))
        else:
            self.index.add(id_, PdqHash(h))
            self.model[id_] = h

    @rule(first=st.integers(100, 130), n=st.integers(1, 15), distance=st.integers(0, 40))
    def add_many(self, first: int, n: int, distance: int) -> None:
        ids = [i for i in range(first, first + n) if i not in self.model]
        hashes = [self.near(distance) for _ in ids]
        self.index.add_many(ids, [PdqHash(h) for h in hashes])
        self.model.update(zip(ids, hashes, strict=True))

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        id_ = data.draw(st.sampled_from(sorted(self.model)))
        self.index.remove(id_)
        del self.model[id_]

    @precondition(lambda self: len(self.model) > 3)
    @rule(data=st.data())
    def remove_many(self, data: st.DataObject) -> None:
        ids = data.draw(st.lists(st.sampled_from(sorted(self.model)), min_size=1, max_size=5, unique=True))
        self.index.remove_many(ids)
        for i in ids:
            del self.model[i]

    @rule()
    def compact(self) -> None:
        self.index.compact()

    @rule(radius=st.integers(0, 64), distance=st.integers(0, 30))
    def query(self, radius: int, distance: int) -> None:
        q = self.near(distance)
        assert self.index.query(PdqHash(q), radius) == brute(self.model, q, radius)

    @invariant()
    def same_members(self) -> None:
        assert len(self.index) == len(self.model)
        for i in range(0, 131, 7):
            assert (i in self.index) == (i in self.model)


TestIndexMachine = IndexMachine.TestCase
TestIndexMachine.settings = settings(max_examples=30, stateful_step_count=40, deadline=None)


# -- concurrency -----------------------------------------------------------------


def test_queries_during_writes_always_see_one_consistent_state() -> None:
    """A writer adds, removes and re-adds while readers query; every answer must be
    exactly the answer of one state the writer passed through, and no reader ever
    sees the index go back in time."""
    rng = np.random.default_rng(5)
    centre = balanced(rng)
    ops: list[tuple[str, int, int]] = []
    for k in range(300):
        ops.append(("add", k, flip_spread(rng, centre, k % 20, "random")))
        if k >= 5:
            ops.append(("remove", k - 5, 0))
        if k % 7 == 6:  # re-add a removed id with a different hash
            ops.append(("add", k - 6, flip_spread(rng, centre, (k + 3) % 20, "random")))
    states: list[frozenset[tuple[int, int]]] = []
    model: dict[int, int] = {}
    states.append(frozenset())
    for op, i, h in ops:
        if op == "add":
            model[i] = h
        else:
            model.pop(i, None)
        states.append(frozenset((i, (v ^ centre).bit_count()) for i, v in model.items()))
    position = {s: k for k, s in reversed(list(enumerate(states)))}
    index = HammingIndex(buffer_size=4, delta_min=16)
    done = threading.Event()
    failures: list[str] = []

    def reader() -> None:
        last = 0
        while not done.is_set():
            got = index.query(PdqHash(centre), 31)
            seen = frozenset((m.id, m.distance) for m in got)
            if len(seen) != len(got) or seen not in position:
                failures.append(f"inconsistent answer {sorted(seen)}")
                return
            # Every state in this script is a different set, so its position is its time.
            if position[seen] < last:
                failures.append("a reader went back in time")
                return
            last = position[seen]

    readers = [threading.Thread(target=reader) for _ in range(2)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    for t in readers:
        t.start()
    try:
        for op, i, h in ops:
            if op == "add":
                index.add(i, PdqHash(h))
            else:
                index.remove(i)
    finally:
        done.set()
        for t in readers:
            t.join()
        sys.setswitchinterval(interval)
    assert not failures, failures[:3]
    assert frozenset((m.id, m.distance) for m in index.query(PdqHash(centre), 31)) == states[-1]


# -- bad input -------------------------------------------------------------------


@pytest.mark.parametrize("radius", [-1, 65, 1000])
def test_a_radius_outside_0_to_64_is_refused(radius: int) -> None:
    with pytest.raises(ValueError, match="between 0 and 64"):
        HammingIndex().query(PdqHash(0), radius)
    with pytest.raises(ValueError, match="between 0 and 64"):
        HammingIndex().query_many([PdqHash(0)], radius)


@pytest.mark.parametrize("radius", [3.0, "31", True, None])
def test_a_radius_that_is_not_an_int_is_refused(radius: object) -> None:
    with pytest.raises(TypeError, match="radius"):
        HammingIndex().query(PdqHash(0), radius)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad_id", [-1, 2**63, 2**70])
def test_ids_outside_0_to_2_63_are_refused(bad_id: int) -> None:
    index = HammingIndex()
    with pytest.raises(ValueError, match="2\\*\\*63"):
        index.add(bad_id, PdqHash(0))
    with pytest.raises(ValueError, match="2\\*\\*63"):
        index.add_many([bad_id], [PdqHash(0)])
    with pytest.raises(ValueError, match="2\\*\\*63"):
        index.remove(bad_id)
    assert len(index) == 0


def test_the_largest_id_is_accepted() -> None:
    index = HammingIndex(buffer_size=1)
    index.add_many([2**63 - 1, 0], [PdqHash(1), PdqHash(1)])
    assert index.query(PdqHash(1), 0) == [Match(0, 0), Match(0, 2**63 - 1)]


@pytest.mark.parametrize("bad_id", [True, 1.0, "1", None])
def test_ids_that_are_not_ints_are_refused(bad_id: object) -> None:
    with pytest.raises(TypeError, match="id"):
        HammingIndex().add(bad_id, PdqHash(0))  # type: ignore[arg-type]
    assert bad_id not in HammingIndex()


@pytest.mark.parametrize("bad_hash", ["00" * 32, 5, None, b"\0" * 32, Md5(b"\0" * 16)])
def test_hashes_that_are_not_pdq_hashes_are_refused(bad_hash: object) -> None:
    index = HammingIndex()
    with pytest.raises(TypeError, match="PdqHash"):
        index.add(1, bad_hash)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="PdqHash"):
        index.add_many([1], [bad_hash])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="PdqHash"):
        index.query(bad_hash)  # type: ignore[arg-type]
    assert len(index) == 0


def test_add_many_refuses_mismatched_or_malformed_arrays() -> None:
    index = HammingIndex()
    with pytest.raises(ValueError, match="2 ids but 1 hashes"):
        index.add_many([1, 2], [PdqHash(0)])
    with pytest.raises(TypeError, match="shape"):
        index.add_many([1], np.zeros((1, 8), dtype=np.uint32))
    with pytest.raises(TypeError, match="integers"):
        index.add_many(np.array([1.5]), np.zeros((1, 4), dtype=np.uint64))  # type: ignore[arg-type]
    assert len(index) == 0


@pytest.mark.parametrize("kwargs", [{"buffer_size": 0}, {"delta_min": -1}, {"buffer_size": True}])
def test_tuning_knobs_must_be_positive(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="positive"):
        HammingIndex(**kwargs)


# -- save and load -----------------------------------------------------------------


def populated(tmp_rng_seed: int = 3) -> tuple[HammingIndex, dict[int, int]]:
    rng = np.random.default_rng(tmp_rng_seed)
    index = HammingIndex(buffer_size=16, delta_min=64)
    model: dict[int, int] = {}
    values = [balanced(rng) for _ in range(300)]
    index.add_many(range(200), [PdqHash(v) for v in values[:200]])
    index.compact()
    for i in range(200, 300):  # some in delta, some in the buffer
        index.add(i, PdqHash(values[i]))
    model.update(enumerate(values))
    for i in (3, 150, 250, 299):  # dead rows in every tier
        index.remove(i)
        del model[i]
    return index, model


def test_save_then_load_answers_the_same(tmp_path: Path) -> None:
    index, model = populated()
    path = tmp_path / "bank.haven"
    index.save(path)
    loaded = HammingIndex.load(path)
    assert len(loaded) == len(model)
    for q in list(model.values())[::17]:
        assert loaded.query(PdqHash(q), 64) == index.query(PdqHash(q), 64) == brute(model, q, 64)
    assert 3 not in loaded
    assert 0 in loaded
    # It stays writable: new entries and removals work on a mapped index.
    loaded.add(3, PdqHash(model[0]))
    loaded.remove(0)
    assert [m.id for m in loaded.query(PdqHash(model[0]), 0)] == [3]
    loaded.compact()
    assert [m.id for m in loaded.query(PdqHash(model[0]), 0)] == [3]


def test_saving_an_empty_index_round_trips(tmp_path: Path) -> None:
    HammingIndex().save(tmp_path / "empty.haven")
    assert len(HammingIndex.load(tmp_path / "empty.haven")) == 0


def corrupt(path: Path, at: int, data: bytes) -> None:
    raw = bytearray(path.read_bytes())
    raw[at : at + len(data)] = data
    path.write_bytes(bytes(raw))


def array_start(path: Path, name: str) -> int:
    import json

    raw = path.read_bytes()
    n = int.from_bytes(raw[8:16], "little")
    header = json.loads(raw[20 : 20 + n])
    return -(-(20 + n) // 4096) * 4096 + int(header["arrays"][name]["offset"])


def test_a_damaged_file_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    index, _ = populated()
    good = tmp_path / "good.haven"
    index.save(good)
    size = good.stat().st_size
    cases = {
        "missing": (lambda p: p.unlink(), "cannot read"),
        "not an index": (lambda p: p.write_bytes(b"PK\x03\x04 a zip file"), "not a Haven index"),
        "empty": (lambda p: p.write_bytes(b""), "not a Haven index"),
        "truncated header": (lambda p: p.write_bytes(good.read_bytes()[:30]), "truncated|damaged"),
        "truncated data": (lambda p: p.write_bytes(good.read_bytes()[: size - 5000]), "truncated"),
        "flipped data byte": (
            lambda p: corrupt(p, array_start(good, "0.tables") + 99, b"\xff\xee"),
            "checksum",
        ),
        "flipped header byte": (lambda p: corrupt(p, 30, b"#"), "damaged header"),
    }
    for name, (damage, message) in cases.items():
        path = tmp_path / f"{name}.haven"
        path.write_bytes(good.read_bytes())
        damage(path)
        with pytest.raises(IndexFileError, match=message):
            HammingIndex.load(path)


def test_a_newer_format_version_is_refused_by_name(tmp_path: Path) -> None:
    import json
    import zlib

    path = tmp_path / "v2.haven"
    HammingIndex().save(path)
    raw = path.read_bytes()
    n = int.from_bytes(raw[8:16], "little")
    header = json.loads(raw[20 : 20 + n])
    header["version"] = 2
    body = json.dumps(header, sort_keys=True).encode()
    assert len(body) == n
    path.write_bytes(raw[:16] + zlib.crc32(body).to_bytes(4, "little") + body + raw[20 + n :])
    with pytest.raises(IndexFileError, match=r"version 2.*reads version 1"):
        HammingIndex.load(path)


def test_a_digest_index_file_is_not_loaded_as_a_hamming_index(tmp_path: Path) -> None:
    DigestIndex(Md5).save(tmp_path / "d.haven")
    with pytest.raises(IndexFileError, match="digest"):
        HammingIndex.load(tmp_path / "d.haven")


# -- DigestIndex ---------------------------------------------------------------------


def test_digest_index_matches_exact_digests_only() -> None:
    index = DigestIndex(Sha256)
    index.add_many([1, 2, 3], [sha256(b"a"), sha256(b"b"), sha256(b"a")])
    assert index.query(sha256(b"a")) == [Match(0, 1), Match(0, 3)]
    assert index.query(sha256(b"c")) == []
    assert index.query_many([sha256(b"b"), sha256(b"c")]) == [[Match(0, 2)], []]
    assert len(index) == 3
    assert 2 in index
    assert True not in index


def test_digest_index_removal_takes_effect_at_once_and_ids_can_return() -> None:
    index = DigestIndex(Md5)
    index.add(1, md5(b"x"))
    index.add(2, md5(b"x"))
    index.remove(1)
    assert index.query(md5(b"x")) == [Match(0, 2)]
    index.remove(2)
    assert index.query(md5(b"x")) == []
    index.add(1, md5(b"y"))
    assert index.query(md5(b"y")) == [Match(0, 1)]
    with pytest.raises(KeyError):
        index.remove(2)


def test_digest_index_refuses_the_other_kind_of_digest() -> None:
    index = DigestIndex(Sha256)
    with pytest.raises(TypeError, match="sha256 digests, not Md5"):
        index.add(1, md5(b"a"))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not Md5"):
        index.query(md5(b"a"))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        DigestIndex(PdqHash)  # type: ignore[type-var]
    assert len(index) == 0


def test_digest_index_refuses_duplicates_and_bad_ids() -> None:
    index = DigestIndex(Md5)
    index.add(1, md5(b"a"))
    with pytest.raises(DuplicateIdError):
        index.add(1, md5(b"b"))
    with pytest.raises(DuplicateIdError):
        index.add_many([2, 1], [md5(b"c"), md5(b"d")])
    with pytest.raises(ValueError, match="2\\*\\*63"):
        index.add(-5, md5(b"e"))
    with pytest.raises(ValueError, match="1 ids but 2"):
        index.add_many([9], [md5(b"c"), md5(b"d")])
    assert len(index) == 1


def test_digest_index_save_and_load(tmp_path: Path) -> None:
    index = DigestIndex(Md5)
    index.add_many(range(50), [md5(bytes([i % 10])) for i in range(50)])
    index.remove(0)
    index.save(tmp_path / "md5.haven")
    loaded = DigestIndex.load(tmp_path / "md5.haven")
    assert loaded.kind is Md5
    assert len(loaded) == 49
    assert loaded.query(md5(b"\0")) == [Match(0, i) for i in range(10, 50, 10)]
    HammingIndex().save(tmp_path / "h.haven")
    with pytest.raises(IndexFileError, match="hamming"):
        DigestIndex.load(tmp_path / "h.haven")
