"""Which edits does each matching method survive, at what false-positive cost?

Runs, in one process on one core, over the same real photos and the same edits:

* ``pdq``       the whole-picture PDQ of the query against the bank's PDQ, distance <= 31
* ``dihedral``  the query's 8 rotated/flipped PDQ hashes against the bank's PDQ, <= 31
* ``grid``      haven.signals: robust_signals() stored per photo, picture_query() of the
                query, matched by RobustMatcher with its per-kind thresholds, near misses
                not refined (``match(..., refine=False)``, what the lookup API does)
* ``robust``    the same query and bank, near misses refined (``match(query)``, what
                ``haven match``, the scanner and evidence capture do)

Photos: Debian ``opencv-doc`` (the *tuning* set: thresholds and normalisation were chosen
looking at it) and Debian ``mate-backgrounds`` plus PyPI ``scikit-image`` photos (the
*held-out* set, reported separately).  They are read where the packages install them;
nothing is downloaded or copied.  Each photo is scaled to at most 1024 pixels on its long
side and is "the survivor's photo"; its signals are computed from its PNG bytes.  Pairs of
files that PDQ with its dihedral variants already calls the same picture (stereo pairs,
the same render from two viewpoints) are kept once, so that a "false positive" is always a match
between two different pictures.

Edits: Meta's AugLy (``pip install augly``, without the ``[image]`` extra), each saved as a
JPEG of quality 90 (how a re-upload arrives).  AugLy's ``meme_format`` calls
``FreeTypeFont.getsize_multiline``, which Pillow 10 removed; the script puts back an
equivalent built on ``multiline_textbbox``.

A *false-positive pair* is a query (an original or an edit of photo A) that matches a
different photo B.  Margins: per bank signal kind, the smallest distance between any
candidate that may match that kind and a signal of that kind from a different photo
(brute force over every pair), next to the kind's threshold.

Cost: signals stored per photo; hashing time per photo on each side; query time against
a bank of 1,000,000 signals (the real ones plus random 128-one-bit hashes, spread evenly
over the twelve stored kinds), with and without refining.

    python benchmarks/bench_robustness.py [--json benchmarks/results/robustness.json] [--bank-size 1000000]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import glob
import io
import json
import platform
import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from haven.signals import (
    CROPS,
    DIHEDRAL,
    QUALITY_FLOOR,
    THRESHOLDS,
    WHOLE,
    HammingIndex,
    PdqHash,
    QuerySignal,
    Refinement,
    RobustMatcher,
    Signal,
    pdq_hash,
    picture_query,
    robust_signals,
)

MAX_SIDE = 1024
PDQ_THRESHOLD = 31


def _getsize_multiline(self: ImageFont.FreeTypeFont, text: str, *args: Any, **kwargs: Any) -> tuple[int, int]:
    box = ImageDraw.Draw(Image.new("L", (1, 1))).multiline_textbbox((0, 0), text, font=self)
    return int(box[2]), int(box[3])


if not hasattr(ImageFont.FreeTypeFont, "getsize_multiline"):
    ImageFont.FreeTypeFont.getsize_multiline = _getsize_multiline  # type: ignore[attr-defined]

import augly.image as imaugs  # after the Pillow shim it needs (E402 is off for benchmarks)

SKIMAGE_PHOTOS = (
    "astronaut.png",
    "brick.png",
    "camera.png",
    "chelsea.png",
    "coffee.png",
    "coins.png",
    "grass.png",
    "gravel.png",
    "hubble_deep_field.jpg",
    "moon.png",
    "motorcycle_left.png",
    "retina.jpg",
    "rocket.jpg",
)


def photo_files() -> dict[str, list[Path]]:
    sets: dict[str, list[Path]] = {"tuning": [], "held-out": []}
    # The two logos in opencv-doc are drawings, not photos.
    sets["tuning"] = sorted(
        Path(p) for p in glob.glob("/usr/share/doc/opencv-doc/examples/data/*.jpg") if "Logo" not in p
    )
    sets["held-out"] = sorted(Path(p) for p in glob.glob("/usr/share/backgrounds/mate/nature/*"))
    try:
        import skimage

        data = Path(skimage.__file__).parent / "data"
        sets["held-out"] += [data / name for name in SKIMAGE_PHOTOS if (data / name).is_file()]
    except ImportError:
        print("scikit-image is not installed: held-out set without its photos", file=sys.stderr)
    if not sets["tuning"]:
        sys.exit("no photos: apt-get install opencv-doc mate-backgrounds; pip install scikit-image")
    return sets


def load(path: Path) -> Image.Image:
    im = Image.open(path)
    im = im.convert("RGB")
    im.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    return im


def as_bytes(im: Image.Image, fmt: str = "JPEG") -> bytes:
    buf = io.BytesIO()
    if fmt == "JPEG":
        im.convert("RGB").save(buf, format="JPEG", quality=90)
    else:
        im.convert("RGB").save(buf, format=fmt)
    return buf.getvalue()


Edit = Callable[[Image.Image], Image.Image]

CORNERS = {
    "tl": (0.0, 0.0, 0.6, 0.6),
    "tr": (0.4, 0.0, 1.0, 0.6),
    "bl": (0.0, 0.4, 0.6, 1.0),
    "br": (0.4, 0.4, 1.0, 1.0),
}

# Edit classes: name -> the edits of one photo (several queries per photo where the class has variants).
EDITS: dict[str, list[Edit]] = {
    "original": [lambda im: im],
    "re-encode q20": [lambda im: imaugs.encoding_quality(im, quality=20)],
    "resize 0.5": [lambda im: imaugs.scale(im, factor=0.5)],
    "colour jitter": [
        lambda im: imaugs.color_jitter(im, brightness_factor=1.3, contrast_factor=1.2, saturation_factor=1.5)
    ],
    "grayscale": [lambda im: imaugs.grayscale(im)],
    "flip h/v": [lambda im: imaugs.hflip(im), lambda im: imaugs.vflip(im)],
    "rotate 90/180/270": [lambda im, d=d: imaugs.rotate(im, degrees=d) for d in (90, 180, 270)],
    "crop centre 80%": [lambda im: imaugs.crop(im, x1=0.1, y1=0.1, x2=0.9, y2=0.9)],
    "crop corner 60%": [
        lambda im, b=b: imaugs.crop(im, x1=b[0], y1=b[1], x2=b[2], y2=b[3]) for b in CORNERS.values()
    ],
    "rotate ±10°": [lambda im: imaugs.rotate(im, degrees=10), lambda im: imaugs.rotate(im, degrees=-10)],
    "meme format": [lambda im: imaugs.meme_format(im)],
    "screenshot": [lambda im: imaugs.overlay_onto_screenshot(im)],
    "pad square": [lambda im: imaugs.pad_square(im)],
    "emoji overlay": [lambda im: imaugs.overlay_emoji(im)],
    "text overlay": [lambda im: imaugs.overlay_text(im)],
    # Between the stored design points: the query side's recrop scales (0.05 steps) and
    # derotation angles (2.5 degree steps) include these; nothing was tuned on their results.
    "crop centre 70%": [lambda im: imaugs.crop(im, x1=0.15, y1=0.15, x2=0.85, y2=0.85)],
    "rotate ±7°": [
        lambda im: imaugs.rotate(im, degrees=7),
        lambda im: imaugs.rotate(im, degrees=-7),
    ],
    "crop corner 70%": [lambda im: imaugs.crop(im, x1=0.3, y1=0.3, x2=1.0, y2=1.0)],
    # Off every grid the query side tries: how far the method generalises.
    "crop centre 72% (off-grid)": [lambda im: imaugs.crop(im, x1=0.14, y1=0.14, x2=0.86, y2=0.86)],
    "crop corner 67% (off-grid)": [lambda im: imaugs.crop(im, x1=0.0, y1=0.33, x2=0.67, y2=1.0)],
    "rotate ±6° (off-grid)": [
        lambda im: imaugs.rotate(im, degrees=6),
        lambda im: imaugs.rotate(im, degrees=-6),
    ],
}


def _draw(im: Image.Image) -> random.Random:
    """A random source fixed per photo (by its size), so every run draws the same edits."""
    return random.Random(im.size[0] * 7919 + im.size[1])


def _random_centre(im: Image.Image) -> Image.Image:
    s = _draw(im).uniform(0.55, 0.95)
    m = (1.0 - s) / 2.0
    return imaugs.crop(im, x1=m, y1=m, x2=1.0 - m, y2=1.0 - m)


def _random_corner(im: Image.Image) -> Image.Image:
    r = _draw(im)
    s, (x, y) = r.uniform(0.62, 0.95), r.choice([(0, 0), (1, 0), (0, 1), (1, 1)])
    x1, y1 = x * (1.0 - s), y * (1.0 - s)
    return imaugs.crop(im, x1=x1, y1=y1, x2=x1 + s, y2=y1 + s)


def _random_turn(im: Image.Image) -> Image.Image:
    r = _draw(im)
    return imaugs.rotate(im, degrees=r.uniform(3.0, 11.0) * r.choice([-1, 1]))


def _random_anywhere(im: Image.Image) -> Image.Image:
    r = _draw(im)
    w, h = r.uniform(0.6, 0.95), r.uniform(0.6, 0.95)
    x1, y1 = r.uniform(0.0, 1.0 - w), r.uniform(0.0, 1.0 - h)
    return imaugs.crop(im, x1=x1, y1=y1, x2=x1 + w, y2=y1 + h)


# Drawn per photo, anywhere in a range: how the method does on edits nobody chose for it.
EDITS |= {
    "crop centre 55–95% (random)": [_random_centre],
    "crop corner 62–95% (random)": [_random_corner],
    "rotate ±3–11° (random)": [_random_turn],
    "crop anywhere, 60–95% × 60–95% (random)": [_random_anywhere],
}
TARGET_CLASSES = [name for name in EDITS if "off-grid" not in name and "random" not in name]
METHODS = ("pdq", "dihedral", "grid", "robust")


def dedupe(paths: list[Path]) -> tuple[list[tuple[str, Image.Image]], list[str]]:
    """Photos, dropping any that PDQ (with its dihedral variants) calls the same picture as an earlier one."""
    kept: list[tuple[str, Image.Image]] = []
    hashes: list[PdqHash] = []
    dropped: list[str] = []
    for path in paths:
        im = load(path)
        variants = pdq_hash(np.asarray(im)).dihedral()
        h = variants[0]
        twin = next(
            (
                kept[i][0]
                for i, k in enumerate(hashes)
                if min(v.distance(k) for v in variants) <= PDQ_THRESHOLD
            ),
            None,
        )
        if twin is not None:
            dropped.append(f"{path.name} (same picture as {twin} for plain PDQ)")
            continue
        kept.append((path.name, im))
        hashes.append(h)
    return kept, dropped


def words(hashes: list[PdqHash]) -> np.ndarray:
    return np.array(
        [[(h.value >> s) & 0xFFFFFFFFFFFFFFFF for s in (192, 128, 64, 0)] for h in hashes], dtype=np.uint64
    )


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros((a.shape[0], b.shape[0]), dtype=np.int32)
    for w in range(4):
        out += np.bitwise_count(a[:, w][:, None] ^ b[:, w][None, :]).astype(np.int32)
    return out


def run_set(label: str, paths: list[Path]) -> dict[str, Any]:
    photos, dropped = dedupe(paths)
    names = [n for n, _ in photos]
    print(f"\n{label}: {len(photos)} photos ({len(dropped)} near-identical files kept once)", flush=True)

    # Submit side.
    bank: list[list[Signal]] = []
    submit_times = []
    for _, im in photos:
        data = as_bytes(im, "PNG")
        t0 = time.perf_counter()
        bank.append(robust_signals(data))
        submit_times.append(time.perf_counter() - t0)
    matcher = RobustMatcher()
    for name, signals in zip(names, bank, strict=True):
        matcher.add(name, signals)
    plain = HammingIndex()
    plain.add_many(range(len(bank)), [s[0].hash for s in bank])

    # Queries.
    per_class: dict[str, dict[str, list[int]]] = {c: {m: [0, 0] for m in METHODS} for c in EDITS}
    fp_pairs: dict[str, set[tuple[str, int, int]]] = {m: set() for m in METHODS}
    query_times: list[float] = []
    match_times: list[float] = []
    queries: list[tuple[str, int, bytes, list[QuerySignal]]] = []
    misses: dict[str, list[str]] = defaultdict(list)
    refinements: list[tuple[str, bool, Refinement]] = []  # (class, towards the query's own photo, step)
    for p, (name, im) in enumerate(photos):
        for cls, edits in EDITS.items():
            for variant, edit in enumerate(edits):
                data = as_bytes(edit(im))
                t0 = time.perf_counter()
                query = picture_query(data)
                query_times.append(time.perf_counter() - t0)
                queries.append((cls, p, data, list(query)))
                whole = pdq_hash(data)
                trace: list[Refinement] = []
                t0 = time.perf_counter()
                refined = matcher.match(query, trace=trace)
                match_times.append(time.perf_counter() - t0)
                refinements.extend((cls, names.index(t.item) == p, t) for t in trace)
                results = {
                    "pdq": {m.id for m in plain.query(whole.hash, PDQ_THRESHOLD)},
                    "dihedral": {m.id for m in plain.query(whole, PDQ_THRESHOLD, dihedral=True)},
                    "grid": {names.index(m.item) for m in matcher.match(query, refine=False)},
                    "robust": {names.index(m.item) for m in refined},
                }
                for method, found in results.items():
                    per_class[cls][method][1] += 1
                    if p in found:
                        per_class[cls][method][0] += 1
                    elif method == "robust":
                        misses[cls].append(f"{name}#{variant}")
                    for other in found - {p}:
                        fp_pairs[method].add((cls, p, other))
        print(f"  {p + 1}/{len(photos)} {name}", end="\r", file=sys.stderr, flush=True)
    print(file=sys.stderr)

    margins = kind_margins(bank, queries)
    return {
        "label": label,
        "photos": names,
        "dropped": dropped,
        "recall": {c: {m: v[0] / v[1] for m, v in r.items()} for c, r in per_class.items()},
        "queries": {c: r["robust"][1] for c, r in per_class.items()},
        "false_positive_pairs": {
            m: sorted([f"{c}: {names[a]} -> {names[b]}" for c, a, b in pairs])
            for m, pairs in fp_pairs.items()
        },
        "robust_misses": dict(misses),
        "margins": margins,
        "signals_per_photo": float(np.mean([len(s) for s in bank])),
        "submit_ms": float(np.median(submit_times) * 1000),
        "query_ms": float(np.median(query_times) * 1000),
        "query_ms_p90": float(np.percentile(query_times, 90) * 1000),
        "match_ms": float(np.median(match_times) * 1000),
        "match_ms_p99": float(np.percentile(match_times, 99) * 1000),
        "refinements": refinement_summary(refinements, len(queries)),
        "query_signals_per_image": float(np.mean([sum(len(c.hashes) for c in q[3]) for q in queries])),
        "_queries": queries,
        "_matcher": matcher,
    }


def refinement_summary(steps: list[tuple[str, bool, Refinement]], queries: int) -> dict[str, Any]:
    """How often near misses were refined, towards which photo, and how close the wrong ones got."""
    own = [t for _, mine, t in steps if mine]
    other = [t for _, mine, t in steps if not mine]
    return {
        "queries": queries,
        "refinements": len(steps),
        "towards_own_photo": len(own),
        "own_photo_matched": sum(1 for t in own if t.end <= THRESHOLDS[t.kind]),
        "towards_other_photo": len(other),
        "other_photo_matched": sum(1 for t in other if t.end <= THRESHOLDS[t.kind]),
        "nearest_other_photo_after_refining": min((t.end for t in other), default=None),
        "hashes_p50": float(np.median([t.hashes for _, _, t in steps])) if steps else 0.0,
        "hashes_max": max((t.hashes for _, _, t in steps), default=0),
        "by_class": {
            cls: sum(1 for c, mine, t in steps if c == cls and mine and t.end <= THRESHOLDS[t.kind])
            for cls in EDITS
        },
    }


def kind_margins(
    bank: list[list[Signal]], queries: list[tuple[str, int, bytes, list[QuerySignal]]]
) -> dict[str, Any]:
    """Per bank kind: the nearest different-photo distance any allowed candidate reaches,
    and the typical true-match distance per edit class."""
    out: dict[str, Any] = {}
    for kind in (WHOLE, *CROPS):
        owners = [p for p, signals in enumerate(bank) for s in signals if s.kind == kind]
        hashes = [s.hash for signals in bank for s in signals if s.kind == kind]
        if not hashes:
            continue
        b = words(hashes)
        owners_arr = np.array(owners)
        q_hashes: list[PdqHash] = []
        q_owner: list[int] = []
        q_query: list[int] = []
        for n, (_, p, _, candidates) in enumerate(queries):
            for c in candidates:
                if c.targets is None or kind in c.targets:
                    q_hashes.extend(c.hashes)
                    q_owner.extend([p] * len(c.hashes))
                    q_query.extend([n] * len(c.hashes))
        nearest_negative = 257
        best_pos = np.full(len(queries), 257)
        qa = np.array(q_owner)
        qq = np.array(q_query)
        qw = words(q_hashes)
        for start in range(0, len(q_hashes), 4096):
            d = distances(qw[start : start + 4096], b)
            same = qa[start : start + 4096][:, None] == owners_arr[None, :]
            neg = np.where(same, 257, d)
            nearest_negative = min(nearest_negative, int(neg.min()))
            pos = np.where(same, d, 257).min(axis=1)
            np.minimum.at(best_pos, qq[start : start + 4096], pos)
        out[kind] = {
            "threshold": THRESHOLDS[kind],
            "nearest_different_photo": nearest_negative,
            "best_match_distance_p50_by_class": {
                cls: int(np.median([best_pos[n] for n, q in enumerate(queries) if q[0] == cls]))
                for cls in EDITS
            },
        }
    return out


def bank_cost(results: list[dict[str, Any]], bank_size: int, rng: np.random.Generator) -> dict[str, Any]:
    matcher: RobustMatcher = results[0]["_matcher"]
    real = len(matcher)
    filler = max(0, bank_size - real)
    bits = np.zeros((filler, 256), dtype=bool)
    for row in range(0, filler, 100_000):
        n = min(100_000, filler - row)
        order = np.argsort(rng.random((n, 256)), axis=1)[:, :128]
        np.put_along_axis(bits[row : row + n], order, True, axis=1)
    packed = np.packbits(bits, axis=1).view(">u8").astype(np.uint64)
    # Spread over the stored kinds as a real bank's are (a photo's PDQ and its crops).
    kinds = (WHOLE, *CROPS)
    t0 = time.perf_counter()
    for k, kind in enumerate(kinds):
        matcher.add_filler(packed[k :: len(kinds)], kind)
    build = time.perf_counter() - t0
    queries = results[0]["_queries"]
    times = []
    for _, _, _, candidates in queries:
        t0 = time.perf_counter()
        matcher.match(candidates)
        times.append(time.perf_counter() - t0)
    # With the picture at hand the index is asked at REFINE_GATE and near misses are refined.
    refined_times = []
    for _, _, data, _ in queries[:: max(1, len(queries) // 300)]:
        query = picture_query(data)
        t0 = time.perf_counter()
        matcher.match(query)
        refined_times.append(time.perf_counter() - t0)
    return {
        "bank_entries": len(matcher),
        "real_signals": real,
        "build_s": build,
        "query_p50_ms": float(np.median(times) * 1000),
        "query_p99_ms": float(np.percentile(times, 99) * 1000),
        "refining_queries": len(refined_times),
        "refining_query_p50_ms": float(np.median(refined_times) * 1000),
        "refining_query_p99_ms": float(np.percentile(refined_times, 99) * 1000),
    }


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| edit class | queries | pdq | pdq + dihedral | haven, grid only | **haven robust** |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for cls in EDITS:
        n = sum(r["queries"][cls] for r in results)
        cells = []
        for method in METHODS:
            hits = sum(r["recall"][cls][method] * r["queries"][cls] for r in results)
            cells.append(f"{100 * hits / n:.1f}%")
        cells[-1] = f"**{cells[-1]}**"
        lines.append(f"| {cls} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", default="benchmarks/results/robustness.json")
    parser.add_argument("--bank-size", type=int, default=1_000_000)
    parser.add_argument("--limit", type=int, default=0, help="photos per set (0 = all), for a quick look")
    args = parser.parse_args()
    rng = np.random.default_rng(2024)
    results = []
    for label, paths in photo_files().items():
        if args.limit:
            paths = paths[: args.limit]
        results.append(run_set(label, paths))
    for r in results:
        print(f"\n## {r['label']}: {len(r['photos'])} photos, {sum(r['queries'].values())} queries")
        print(table([r]))
        for method, pairs in r["false_positive_pairs"].items():
            print(f"false-positive pairs, {method}: {len(pairs)}" + (f"  e.g. {pairs[:3]}" if pairs else ""))
        print("margins (threshold vs nearest different-photo distance):")
        for kind, m in r["margins"].items():
            print(
                f"  {kind:12} threshold {m['threshold']:2}  "
                f"nearest different photo {m['nearest_different_photo']}"
            )
        print(f"robust misses: {json.dumps(r['robust_misses'], ensure_ascii=False)}")
        print(f"refinements: {json.dumps(r['refinements'], ensure_ascii=False)}")
        print(
            f"query side p50 {r['query_ms']:.0f} ms (p90 {r['query_ms_p90']:.0f}); "
            f"match p50 {r['match_ms']:.1f} ms (p99 {r['match_ms_p99']:.1f})"
        )
    print("\n## both sets")
    print(table(results))
    cost = bank_cost(results, args.bank_size, rng)
    summary = {
        "signals_per_photo": float(np.mean([r["signals_per_photo"] for r in results])),
        "submit_ms_p50": float(np.mean([r["submit_ms"] for r in results])),
        "query_hash_ms_p50": float(np.mean([r["query_ms"] for r in results])),
        "match_ms_p50": float(np.mean([r["match_ms"] for r in results])),
        "query_hashes_per_image": float(np.mean([r["query_signals_per_image"] for r in results])),
        **cost,
    }
    print(json.dumps(summary, indent=2))
    out = {
        "machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine()},
        "pdq_threshold": PDQ_THRESHOLD,
        "robust_thresholds": dict(THRESHOLDS),
        "quality_floor": QUALITY_FLOOR,
        "kinds": [WHOLE, DIHEDRAL, *CROPS],
        "sets": [{k: v for k, v in r.items() if not k.startswith("_")} for r in results],
        "cost": summary,
        "table": table(results),
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=2, ensure_ascii=False))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
