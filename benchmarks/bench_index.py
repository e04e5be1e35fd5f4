"""How fast is the matching index, and is it exact?  Ours against FAISS, one thread.

For each bank size and kind (uniform hashes with exactly 128 one-bits; a clustered
bank where 10% of entries form near-duplicate families) this builds
``haven.signals.HammingIndex``, FAISS ``IndexBinaryFlat`` (brute force) and FAISS
``IndexBinaryMultiHash(256, 16, 16)`` with ``nflip=1`` (the setting HMA and
python-threatexchange use), then runs 1,000 planted queries (a bank entry with
0-31 bits flipped) and 1,000 random ones at radius 31.

Measured: single-query p50/p99 latency, batch throughput, build time, memory,
recall against brute force (FAISS flat's range search is the ground truth; a few
queries are also checked against a numpy scan), the time to add and remove 10,000
entries, and save/load time for ours.

    .venv/bin/python benchmarks/bench_index.py --sizes 1000000,10000000

Prints a Markdown table and writes JSON to benchmarks/results/index.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

# One thread everywhere: set before numpy or faiss start their thread pools.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np

from haven.signals import HammingIndex, PdqHash

RADIUS = 31
RESULTS = Path(__file__).resolve().parent / "results" / "index.json"


def rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


# -- data -----------------------------------------------------------------------


def to_words(bits: np.ndarray) -> np.ndarray:
    """(n, 256) 0/1 bits, most significant first -> (n, 4) uint64 words."""
    return np.packbits(bits, axis=1).view(">u8").astype(np.uint64)


def balanced_hashes(rng: np.random.Generator, n: int, chunk: int = 250_000) -> np.ndarray:
    """Random hashes with exactly 128 one-bits, like real PDQ hashes."""
    out = np.empty((n, 4), dtype=np.uint64)
    row = np.zeros(256, dtype=np.uint8)
    row[:128] = 1
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        out[start : start + m] = to_words(rng.permuted(np.tile(row, (m, 1)), axis=1))
    return out


def words_to_bits(words: np.ndarray) -> np.ndarray:
    return np.unpackbits(words.astype(">u8").view(np.uint8).reshape(-1, 32), axis=1)


def clustered_hashes(rng: np.random.Generator, n: int) -> np.ndarray:
    """90% uniform balanced hashes; 10% in families of 2-50 near-duplicates of a
    base hash, each member 1-8 swapped bit pairs (distance 2-16) away, still 128 ones."""
    out = balanced_hashes(rng, n)
    n_family = n // 10
    sizes: list[int] = []
    while sum(sizes) < n_family:
        sizes.append(int(rng.integers(2, 51)))
    sizes[-1] -= sum(sizes) - n_family
    sizes = [s for s in sizes if s > 0]
    bases = balanced_hashes(rng, len(sizes))
    member_base = np.repeat(np.arange(len(sizes)), sizes)
    members = np.empty((n_family, 4), dtype=np.uint64)
    for start in range(0, n_family, 100_000):
        idx = member_base[start : start + 100_000]
        m = idx.size
        bits = words_to_bits(bases[idx])
        ones = np.flatnonzero(bits.reshape(-1)).reshape(m, 128) % 256
        zeros = np.flatnonzero(bits.reshape(-1) == 0).reshape(m, 128) % 256
        pick = rng.permuted(np.tile(np.arange(128, dtype=np.intp), (m, 1)), axis=1)[:, :8]
        swaps = rng.integers(1, 9, size=m)
        rows = np.arange(m)
        for s in range(8):
            act = rows[swaps > s]
            bits[act, ones[act, pick[act, s]]] = 0
            bits[act, zeros[act, pick[act, s]]] = 1
        members[start : start + m] = to_words(bits)
    where = rng.choice(n, n_family, replace=False)
    out[where] = members
    return out


def make_queries(rng: np.random.Generator, bank: np.ndarray, n_planted: int, n_random: int) -> np.ndarray:
    """Planted: a bank entry with 0-31 random bits flipped.  Random: fresh balanced hashes."""
    src = bank[rng.integers(0, bank.shape[0], n_planted)]
    bits = words_to_bits(src)
    order = rng.permuted(np.tile(np.arange(256, dtype=np.intp), (n_planted, 1)), axis=1)
    flips = rng.integers(0, RADIUS + 1, size=n_planted)
    for k in range(n_planted):
        bits[k, order[k, : flips[k]]] ^= 1
    return np.concatenate([to_words(bits), balanced_hashes(rng, n_random)])


# -- measuring ------------------------------------------------------------------


def latencies(fn: Any, queries: list[Any]) -> np.ndarray:
    fn(queries[0])
    out = np.empty(len(queries))
    for k, q in enumerate(queries):
        t = time.perf_counter()
        fn(q)
        out[k] = time.perf_counter() - t
    return out * 1e3


def summarise(ms: np.ndarray) -> dict[str, float]:
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "mean_ms": float(ms.mean()),
    }


def faiss_codes(words: np.ndarray) -> np.ndarray:
    # Any fixed byte order gives the same Hamming distances.
    return np.ascontiguousarray(words).view(np.uint8).reshape(-1, 32)


def faiss_range(index: Any, codes: np.ndarray) -> list[set[int]]:
    # FAISS binary range search returns distances strictly below the radius.
    lims, _, labels = index.range_search(codes, RADIUS + 1)
    return [set(labels[lims[k] : lims[k + 1]].tolist()) for k in range(codes.shape[0])]


def recall(found: list[set[int]], truth: list[set[int]]) -> dict[str, float]:
    total = sum(len(t) for t in truth)
    hit = sum(len(f & t) for f, t in zip(found, truth, strict=True))
    extra = sum(len(f - t) for f, t in zip(found, truth, strict=True))
    return {"recall": hit / total if total else 1.0, "true_matches": total, "false_matches": extra}


def bench_ours(
    bank: np.ndarray, queries: np.ndarray, truth: list[set[int]], rng: np.random.Generator
) -> dict[str, Any]:
    n = bank.shape[0]
    ids = np.arange(n, dtype=np.int64)
    gc.collect()
    rss0 = rss_bytes()
    index = HammingIndex()
    t = time.perf_counter()
    index.add_many(ids, bank)
    build_s = time.perf_counter() - t
    gc.collect()
    mem_rss = rss_bytes() - rss0
    hashes = [PdqHash(int.from_bytes(q.astype(">u8").tobytes(), "big")) for q in queries]

    def one(h: PdqHash) -> Any:
        return index.query(h, RADIUS)

    lat = latencies(one, hashes)
    t = time.perf_counter()
    results = index.query_many(queries, RADIUS)
    batch_s = time.perf_counter() - t
    found = [{m.id for m in ms} for ms in results]
    # Exact distances, too: every reported distance must equal the popcount.
    for q, ms in zip(queries[:50], results[:50], strict=True):
        for m in ms:
            assert int(np.bitwise_count(bank[m.id] ^ q).sum()) == m.distance

    # Dynamic updates: 10,000 single add() calls with new ids, 10,000 remove() calls
    # of existing (main-segment) ids, then the same as one add_many / remove_many.
    new = balanced_hashes(rng, 10_000)
    new_h = [PdqHash(int.from_bytes(w.astype(">u8").tobytes(), "big")) for w in new]
    new_ids = np.arange(n, n + 10_000, dtype=np.int64)
    t = time.perf_counter()
    for i, h in zip(new_ids.tolist(), new_h, strict=True):
        index.add(i, h)
    add_s = time.perf_counter() - t
    after_add = index.query(new_h[-1], 0)
    assert [m.id for m in after_add] == [int(new_ids[-1])], after_add
    gone = rng.choice(n, 10_000, replace=False)
    t = time.perf_counter()
    for i in gone.tolist():
        index.remove(i)
    remove_s = time.perf_counter() - t
    assert int(gone[0]) not in index
    lat_after = latencies(one, hashes[:500])
    t = time.perf_counter()
    index.remove_many(new_ids)
    remove_many_s = time.perf_counter() - t
    t = time.perf_counter()
    index.add_many(new_ids, new)
    add_many_s = time.perf_counter() - t
    t = time.perf_counter()
    index.compact()
    compact_s = time.perf_counter() - t

    # Worst case for additions: the delta segment is just under its limit, so the
    # first fold freezes it and a background merge of main starts, competing for
    # the CPU while the rest of the 10,000 additions go on.
    fill_ids = np.arange(n + 10_000, n + 10_000 + max(65536, n // 128) - 2000, dtype=np.int64)
    index.add_many(fill_ids, balanced_hashes(rng, fill_ids.size))
    more = balanced_hashes(rng, 10_000)
    more_h = [PdqHash(int.from_bytes(w.astype(">u8").tobytes(), "big")) for w in more]
    t = time.perf_counter()
    for i, h in zip(range(int(fill_ids[-1]) + 1, int(fill_ids[-1]) + 10_001), more_h, strict=True):
        index.add(i, h)
    add_worst_s = time.perf_counter() - t
    lat_merging = latencies(one, hashes[:300])
    t = time.perf_counter()
    index.remove_many(
        np.concatenate([fill_ids, np.arange(int(fill_ids[-1]) + 1, int(fill_ids[-1]) + 10_001)])
    )
    index.compact()  # waits for the background merge, then rebuilds without the extra entries
    settle_s = time.perf_counter() - t

    with tempfile.TemporaryDirectory(dir=os.environ.get("HAVEN_BENCH_TMP")) as tmp:
        path = Path(tmp) / "index.haven"
        t = time.perf_counter()
        index.save(path)
        save_s = time.perf_counter() - t
        index = HammingIndex()  # drop the built one before loading
        gc.collect()
        t = time.perf_counter()
        loaded = HammingIndex.load(path)
        load_s = time.perf_counter() - t
        assert len(loaded) == n, len(loaded)
        lat_loaded = latencies(lambda h: loaded.query(h, RADIUS), hashes[:200])
        nbytes = loaded.nbytes
    return {
        "build_s": build_s,
        "memory_bytes": nbytes,
        "memory_rss_bytes": mem_rss,
        "bytes_per_hash": nbytes / n,
        "single": summarise(lat),
        "single_planted": summarise(lat[: len(lat) // 2]),
        "single_random": summarise(lat[len(lat) // 2 :]),
        "batch_qps": len(queries) / batch_s,
        **recall(found, truth),
        "add_10k_s": add_s,
        "remove_10k_s": remove_s,
        "single_after_updates": summarise(lat_after),
        "remove_many_10k_s": remove_many_s,
        "add_many_10k_s": add_many_s,
        "compact_s": compact_s,
        "add_10k_merge_starting_s": add_worst_s,
        "single_during_merge": summarise(lat_merging),
        "settle_s": settle_s,
        "save_s": save_s,
        "load_s": load_s,
        "single_after_load": summarise(lat_loaded),
    }


def bench_faiss_flat(bank: np.ndarray, queries: np.ndarray) -> tuple[dict[str, Any], list[set[int]]]:
    import faiss

    codes = faiss_codes(bank)
    qcodes = faiss_codes(queries)
    gc.collect()
    rss0 = rss_bytes()
    t = time.perf_counter()
    index = faiss.IndexBinaryFlat(256)
    index.add(codes)
    build_s = time.perf_counter() - t
    mem = rss_bytes() - rss0
    lat = latencies(
        lambda q: index.range_search(q, RADIUS + 1), [qcodes[k : k + 1] for k in range(len(qcodes))]
    )
    t = time.perf_counter()
    truth = faiss_range(index, qcodes)
    batch_s = time.perf_counter() - t
    # FAISS has no cheap delete: remove_ids compacts the whole array.
    extra = faiss_codes(balanced_hashes(np.random.default_rng(7), 10_000))
    t = time.perf_counter()
    index.add(extra)
    add_s = time.perf_counter() - t
    t = time.perf_counter()
    index.remove_ids(np.arange(bank.shape[0], bank.shape[0] + 10_000, dtype=np.int64))
    remove_s = time.perf_counter() - t
    out = {
        "build_s": build_s,
        "memory_bytes": index.ntotal * 32,
        "memory_rss_bytes": mem,
        "bytes_per_hash": 32.0,
        "single": summarise(lat),
        "batch_qps": len(queries) / batch_s,
        "recall": 1.0,
        "add_many_10k_s": add_s,
        "remove_many_10k_s": remove_s,
    }
    return out, truth


def bench_faiss_multihash(bank: np.ndarray, queries: np.ndarray, truth: list[set[int]]) -> dict[str, Any]:
    import faiss

    codes = faiss_codes(bank)
    qcodes = faiss_codes(queries)
    gc.collect()
    rss0 = rss_bytes()
    t = time.perf_counter()
    index = faiss.IndexBinaryMultiHash(256, 16, 16)
    index.nflip = 1
    index.add(codes)
    build_s = time.perf_counter() - t
    gc.collect()
    mem = rss_bytes() - rss0
    lat = latencies(
        lambda q: index.range_search(q, RADIUS + 1), [qcodes[k : k + 1] for k in range(len(qcodes))]
    )
    t = time.perf_counter()
    found = faiss_range(index, qcodes)
    batch_s = time.perf_counter() - t
    return {
        "build_s": build_s,
        "memory_bytes": mem,
        "memory_rss_bytes": mem,
        "bytes_per_hash": mem / bank.shape[0],
        "single": summarise(lat),
        "batch_qps": len(queries) / batch_s,
        **recall(found, truth),
        "add_many_10k_s": None,
        "remove_many_10k_s": None,  # MultiHash has no remove: HMA rebuilds the index
    }


def numpy_brute(bank: np.ndarray, queries: np.ndarray, truth: list[set[int]], n: int = 20) -> dict[str, Any]:
    def scan(q: np.ndarray) -> set[int]:
        d = np.bitwise_count(bank ^ q).sum(axis=1)
        return set(np.flatnonzero(d <= RADIUS).tolist())

    picks = list(range(n // 2)) + list(range(len(queries) - n // 2, len(queries)))
    lat = latencies(scan, [queries[k] for k in picks])
    for k in picks:
        assert scan(queries[k]) == truth[k], "FAISS flat and the numpy scan disagree"
    return {"single": summarise(lat), "queries": len(picks)}


def run(size: int, kind: str, n_planted: int, n_random: int, seed: int) -> dict[str, Any]:
    import faiss

    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(seed)
    t = time.perf_counter()
    bank = balanced_hashes(rng, size) if kind == "uniform" else clustered_hashes(rng, size)
    queries = make_queries(rng, bank, n_planted, n_random)
    print(f"# {size:,} {kind}: bank made in {time.perf_counter() - t:.1f} s", flush=True)
    flat, truth = bench_faiss_flat(bank, queries)
    print(f"#   faiss flat p50 {flat['single']['p50_ms']:.3f} ms", flush=True)
    brute = numpy_brute(bank, queries, truth)
    ours = bench_ours(bank, queries, truth, rng)
    print(f"#   ours p50 {ours['single']['p50_ms']:.3f} ms, recall {ours['recall']:.4f}", flush=True)
    multi = bench_faiss_multihash(bank, queries, truth)
    print(f"#   faiss multihash p50 {multi['single']['p50_ms']:.3f} ms", flush=True)
    matches = sum(len(t) for t in truth)
    return {
        "size": size,
        "kind": kind,
        "queries": {"planted": n_planted, "random": n_random, "radius": RADIUS, "true_matches": matches},
        "haven": ours,
        "faiss_flat": flat,
        "faiss_multihash": multi,
        "numpy_brute": brute,
    }


def fmt(x: float | None, spec: str) -> str:
    return "n/a" if x is None else format(x, spec)


def table(results: list[dict[str, Any]]) -> str:
    head = (
        "| bank | engine | p50 ms | p99 ms | batch q/s | recall | build s | memory B/hash "
        "| add 10k s | remove 10k s | load s |\n"
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n"
    )
    lines = []
    for r in results:
        bank = f"{r['size'] / 1e6:g}M {r['kind']}"
        for name, key in (
            ("haven", "haven"),
            ("FAISS flat", "faiss_flat"),
            ("FAISS multihash", "faiss_multihash"),
        ):
            e = r[key]
            add = e.get("add_10k_s", e.get("add_many_10k_s"))
            rem = e.get("remove_10k_s", e.get("remove_many_10k_s"))
            lines.append(
                f"| {bank} | {name} | {e['single']['p50_ms']:.3f} | {e['single']['p99_ms']:.3f} "
                f"| {e['batch_qps']:,.0f} | {e['recall'] * 100:.2f}% | {e['build_s']:.1f} "
                f"| {e['bytes_per_hash']:.1f} | {fmt(add, '.3f')} | {fmt(rem, '.3f')} "
                f"| {fmt(e.get('load_s'), '.2f')} |"
            )
        lines.append(
            f"| {bank} | numpy scan | {r['numpy_brute']['single']['p50_ms']:.3f} "
            f"| {r['numpy_brute']['single']['p99_ms']:.3f} | | | | 32.0 | | | |"
        )
    return head + "\n".join(lines) + "\n"


def ratios(results: list[dict[str, Any]]) -> str:
    out = []
    for r in results:
        h, f, m = r["haven"], r["faiss_flat"], r["faiss_multihash"]
        p50 = h["single"]["p50_ms"]
        out.append(
            f"- {r['size'] / 1e6:g}M {r['kind']}: p50 {f['single']['p50_ms'] / p50:.1f}x faster "
            f"than FAISS flat, {m['single']['p50_ms'] / p50:.1f}x faster than FAISS multihash; "
            f"batch {h['batch_qps'] / f['batch_qps']:.1f}x FAISS flat; "
            f"memory {h['bytes_per_hash'] / 32:.2f}x raw; "
            f"p50 after 20k updates {h['single_after_updates']['p50_ms']:.3f} ms, after load "
            f"{h['single_after_load']['p50_ms']:.3f} ms; add_many/remove_many 10k "
            f"{h['add_many_10k_s']:.3f}/{h['remove_many_10k_s']:.3f} s; "
            f"full rebuild (compact) {h['compact_s']:.1f} s; "
            f"add 10k while a background merge starts {h['add_10k_merge_starting_s']:.3f} s, "
            f"p50 right after {h['single_during_merge']['p50_ms']:.3f} ms; "
            f"save {h['save_s']:.1f} s"
        )
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000000,10000000", help="comma-separated bank sizes")
    parser.add_argument("--kinds", default="uniform,clustered")
    parser.add_argument("--planted", type=int, default=1000)
    parser.add_argument("--random", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        for kind in args.kinds.split(","):
            results.append(run(size, kind, args.planted, args.random, args.seed))
            gc.collect()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    machine = {"cpus": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__}
    args.out.write_text(json.dumps({"machine": machine, "results": results}, indent=2))
    print(table(results))
    print(ratios(results))


if __name__ == "__main__":
    main()
