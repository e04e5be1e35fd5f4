"""How fast does a picture file become a PDQ hash, and how far is the fast path from full resolution?

Runs, in one process on one core, over the same files:

* ``haven``            haven.signals.pdq_hash(path): reduced decode + operator PDQ (the default)
* ``haven-full``       haven.signals.pdq_hash(path, full_resolution=True)
* ``pdqhash-full``     Pillow decode -> RGB array -> pdqhash.compute (python-threatexchange / HMA)
* ``pdqhash-thumb``    Pillow draft + 512 px thumbnail -> pdqhash.compute

and reports images/s per core, ratios against the peers, and the Hamming distance of
each method's hash from the full-resolution C++ hash (``pdqhash-full``).  Both peers
apply EXIF orientation (``ImageOps.exif_transpose``) as Haven does, so that all four
hash the same upright picture.

Pictures: ../shared/vectors/pdq plus real photographs from packages when installed
(Debian mate-backgrounds, opencv-doc, plasma-workspace-wallpapers; PyPI scikit-image,
scikit-learn, matplotlib).  Nothing is downloaded or copied.

    python benchmarks/bench_hashing.py [--repeat 3] [--json benchmarks/results/hashing.json]
"""

from __future__ import annotations

import os

# One core, one thread: per-core figures, and BLAS must not spread over both cores.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import glob
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pdqhash
from PIL import Image, ImageOps

from haven.signals import PdqHash, pdq_hash

ROOT = Path(__file__).resolve().parents[1]
SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


def real_photo_paths() -> dict[str, list[Path]]:
    sources: dict[str, list[Path]] = {}

    def add(name: str, paths: list[Path]) -> None:
        found = sorted(p for p in paths if p.suffix.lower() in SUFFIXES and p.is_file())
        if found:
            sources[name] = found

    add("mate-backgrounds", [Path(p) for p in glob.glob("/usr/share/backgrounds/mate/nature/*")])
    add("opencv-doc", [Path(p) for p in glob.glob("/usr/share/doc/opencv-doc/examples/data/*.jpg")])
    wallpapers = []
    for folder in glob.glob("/usr/share/wallpapers/*/contents/images/"):
        files = [Path(p) for p in glob.glob(folder + "*")]
        if files:
            wallpapers.append(max(files, key=lambda p: p.stat().st_size))
    add("plasma-wallpapers", wallpapers)
    for module, pattern in (
        ("skimage", "data/*.*"),
        ("sklearn", "datasets/images/*.jpg"),
        ("matplotlib", "mpl-data/sample_data/*.jpg"),
    ):
        try:
            mod = __import__(module)
        except ImportError:
            continue
        if mod.__file__:
            add(module, [Path(p) for p in glob.glob(str(Path(mod.__file__).parent / pattern))])
    return sources


def vector_paths() -> list[Path]:
    folder = Path(os.environ.get("HAVEN_VECTORS", ROOT.parent / "shared" / "vectors")) / "pdq"
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES)


def _bits_to_hash(bits: np.ndarray) -> PdqHash:
    return PdqHash.from_bits(np.asarray(bits)[::-1])


def pdqhash_full(path: Path) -> PdqHash:
    with Image.open(path) as im:
        rgb = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    bits, _ = pdqhash.compute(rgb)
    return _bits_to_hash(bits)


def pdqhash_thumb(path: Path) -> PdqHash:
    with Image.open(path) as im:
        im.draft("RGB", (512, 512))
        small = ImageOps.exif_transpose(im).convert("RGB")
        small.thumbnail((512, 512))
        rgb = np.asarray(small)
    bits, _ = pdqhash.compute(rgb)
    return _bits_to_hash(bits)


def haven_fast(path: Path) -> PdqHash:
    return pdq_hash(path).hash


def haven_full(path: Path) -> PdqHash:
    return pdq_hash(path, full_resolution=True).hash


METHODS: dict[str, Callable[[Path], PdqHash]] = {
    "haven": haven_fast,
    "haven-full": haven_full,
    "pdqhash-full": pdqhash_full,
    "pdqhash-thumb": pdqhash_thumb,
}


def time_method(fn: Callable[[Path], PdqHash], paths: list[Path], repeat: int) -> tuple[float, float]:
    """(first pass seconds, best of ``repeat`` warm passes) over all paths."""
    start = time.perf_counter()
    for p in paths:
        fn(p)
    first = time.perf_counter() - start
    warm = []
    for _ in range(repeat):
        start = time.perf_counter()
        for p in paths:
            fn(p)
        warm.append(time.perf_counter() - start)
    return first, min(warm)


def megapixels(paths: list[Path]) -> float:
    total = 0
    for p in paths:
        with Image.open(p) as im:
            total += im.size[0] * im.size[1]
    return total / 1e6


def deviation(paths: list[Path]) -> dict[str, dict[str, object]]:
    reference = [pdqhash_full(p) for p in paths]
    out: dict[str, dict[str, object]] = {}
    for name in ("haven", "haven-full", "pdqhash-thumb"):
        d = np.array([METHODS[name](p) - r for p, r in zip(paths, reference, strict=True)])
        out[name] = {
            "over_6_bits": {p.name: int(x) for p, x in zip(paths, d, strict=True) if x > 6},
            "mean": float(d.mean()),
            "p50": float(np.percentile(d, 50)),
            "p99": float(np.percentile(d, 99)),
            "max": int(d.max()),
            "exact": float((d == 0).mean()),
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "hashing.json")
    args = parser.parse_args()

    sets = {"vectors": vector_paths(), **real_photo_paths()}
    sets = {k: v for k, v in sets.items() if v}
    if "vectors" not in sets:
        print("reference vectors not found (set HAVEN_VECTORS)", file=sys.stderr)
    real = [p for name, ps in sets.items() if name != "vectors" for p in ps]
    groups = {"vectors": sets.get("vectors", []), "real photos": real}
    groups = {k: v for k, v in groups.items() if v}

    results: dict[str, object] = {
        "machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine()},
        "sources": {k: len(v) for k, v in sets.items()},
        "groups": {},
    }
    print(f"sources: {results['sources']}")
    for group, paths in groups.items():
        mp = megapixels(paths)
        print(f"\n== {group}: {len(paths)} files, {mp:.1f} MP in all ({mp / len(paths):.2f} MP mean)")
        rates = {}
        for name, fn in METHODS.items():
            first, best = time_method(fn, paths, args.repeat)
            rates[name] = {
                "images_per_s": len(paths) / best,
                "images_per_s_first_pass": len(paths) / first,
                "ms_per_image": 1000 * best / len(paths),
            }
        dev = deviation(paths)
        header = (
            f"{'method':<15}{'img/s/core':>11}{'1st pass':>10}{'ms/img':>8}{'p50':>6}{'p99':>6}{'max':>5}"
        )
        print(header)
        for name, r in rates.items():
            d: dict[str, object] = dev.get(name, {"p50": 0.0, "p99": 0.0, "max": 0})
            print(
                f"{name:<15}{r['images_per_s']:>11.1f}{r['images_per_s_first_pass']:>10.1f}"
                f"{r['ms_per_image']:>8.2f}{d['p50']:>6.1f}{d['p99']:>6.1f}{d['max']:>5}"
            )
        ratios = {
            "haven_vs_pdqhash_full": rates["haven"]["images_per_s"] / rates["pdqhash-full"]["images_per_s"],
            "haven_vs_pdqhash_thumb": rates["haven"]["images_per_s"] / rates["pdqhash-thumb"]["images_per_s"],
            "haven_full_vs_pdqhash_full": rates["haven-full"]["images_per_s"]
            / rates["pdqhash-full"]["images_per_s"],
        }
        for k, v in ratios.items():
            print(f"  {k}: {v:.2f}x")
        for name, d in dev.items():
            if d["over_6_bits"]:
                print(f"  {name} more than 6 bits from pdqhash-full: {d['over_6_bits']}")
        results["groups"][group] = {  # type: ignore[index]
            "files": len(paths),
            "megapixels": mp,
            "rates": rates,
            "deviation_bits_vs_pdqhash_full": dev,
            "ratios": ratios,
        }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
