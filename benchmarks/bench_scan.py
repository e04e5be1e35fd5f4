"""How fast does a scan go end to end, and does it find every planted copy and nothing else?

A local site on 127.0.0.1 (aiohttp, in its own process) serves ``--pages`` HTML pages
listed by a sitemap index; each page shows one JPEG under its own URL.  The pictures
are real photographs (Debian mate-backgrounds, opencv-doc, plasma-workspace-wallpapers,
whichever are installed; near-duplicates among them are dropped) scaled to at most
640 px and changed the way re-posts are: resized, re-encoded at another quality,
brightness/contrast/colour changed, turned grey, mirrored, rotated by quarter turns
(one to three changes each).  A quarter of the photos form the bank; 1% of the pages
show a changed copy of a bank photo (planted), the rest show changed copies of the
other photos.

The same scan (``haven.scan.scan`` over ``Sitemap``) runs three ways:

* ``local, 1 process``   fetching on the event loop, hashing on one thread
* ``local, --jobs 2``    hashing in a pool of 2 processes
* ``dask, 2 workers``    a ``distributed.LocalCluster`` of 2 worker processes (1 thread
                         each): workers fetch, hash and match; the bank is scattered once

and reports pages/s and images/s end to end, recall of the planted copies and the
number of false candidates.  Everything shares the machine's cores with the site.
The bank holds each photo's robust crop signals (``haven hash --robust``), and every
found picture's query signals are matched too (``ScanOptions.robust``, the default);
``--no-robust`` measures plain PDQ matching (with rotations and flips) on the same bank.

    python benchmarks/bench_scan.py                  # 10,000 pages
    python benchmarks/bench_scan.py --pages 1000     # a quick look
    python benchmarks/bench_scan.py --pages 1000 --no-robust

Prints a Markdown table and writes JSON to benchmarks/results/scan.json.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import asyncio
import glob
import io
import json
import multiprocessing
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from haven.scan import BankEntry, BankSnapshot, FetchPolicy, ScanOptions, ScanReport, Sitemap, scan
from haven.signals import md5, pdq_hash, robust_signals

RESULTS = Path(__file__).resolve().parent / "results" / "scan.json"
MAX_SIDE = 640
PLANT_EVERY = 100  # 1% of the pages
SITEMAP_SIZE = 1000
TRANSFORMS = (
    "resize", "quality", "brightness", "contrast", "colour", "grey",
    "mirror", "flip", "rotate90", "rotate180", "rotate270",
)  # fmt: skip


def photo_paths() -> list[Path]:
    paths = [Path(p) for p in glob.glob("/usr/share/backgrounds/mate/nature/*.jpg")]
    paths += [Path(p) for p in glob.glob("/usr/share/doc/opencv-doc/examples/data/*.jpg")]
    for folder in glob.glob("/usr/share/wallpapers/*/contents/images/"):
        files = [Path(p) for p in glob.glob(folder + "*")]
        if files:
            paths.append(max(files, key=lambda p: p.stat().st_size))
    return sorted(paths)


def load_photos() -> list[tuple[str, Image.Image]]:
    """Distinct, structured photos scaled to at most MAX_SIDE; near-duplicates dropped."""
    kept: list[tuple[str, Image.Image]] = []
    hashes = []
    for path in photo_paths():
        with Image.open(path) as im:
            im.draft("RGB", (MAX_SIDE, MAX_SIDE))
            picture = ImageOps.exif_transpose(im).convert("RGB")
        picture.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
        result = pdq_hash(picture)
        if result.quality < 70 or min(picture.size) < 100:
            continue
        variants = result.dihedral()
        if any(min(v - h for v in variants) <= 80 for h in hashes):
            continue  # a stereo pair, a calibration series, a before/after: not distinct content
        hashes.append(result.hash)
        kept.append((path.name, picture))
    return kept


def split(photos: list[tuple[str, Image.Image]]) -> tuple[list[tuple[str, Image.Image]], list[Image.Image]]:
    bank_size = max(2, len(photos) // 4)
    return photos[:bank_size], [im for _, im in photos[bank_size:]]


def changed(picture: Image.Image, rng: np.random.Generator) -> tuple[bytes, list[str]]:
    """A re-post: 1-3 random changes, then a JPEG encode."""
    names = list(rng.choice(TRANSFORMS, size=int(rng.integers(1, 4)), replace=False))
    im = picture
    quality = 85
    for name in names:
        if name == "resize":
            f = float(rng.uniform(0.5, 0.9))
            im = im.resize(
                (max(64, int(im.width * f)), max(64, int(im.height * f))), Image.Resampling.BILINEAR
            )
        elif name == "quality":
            quality = int(rng.integers(50, 96))
        elif name == "brightness":
            im = ImageEnhance.Brightness(im).enhance(float(rng.uniform(0.75, 1.25)))
        elif name == "contrast":
            im = ImageEnhance.Contrast(im).enhance(float(rng.uniform(0.75, 1.25)))
        elif name == "colour":
            im = ImageEnhance.Color(im).enhance(float(rng.uniform(0.5, 1.5)))
        elif name == "grey":
            im = ImageOps.grayscale(im).convert("RGB")
        elif name == "mirror":
            im = ImageOps.mirror(im)
        elif name == "flip":
            im = ImageOps.flip(im)
        else:
            im = im.rotate(int(name.removeprefix("rotate")), expand=True)
    out = io.BytesIO()
    im.save(out, "JPEG", quality=quality)
    return out.getvalue(), [str(n) for n in names]


def planted(pages: int, bank_size: int) -> dict[int, int]:
    """page number -> index of the bank photo it shows."""
    return {i: (i // PLANT_EVERY) % bank_size for i in range(PLANT_EVERY // 2, pages, PLANT_EVERY)}


# -- the site (a separate process) -------------------------------------------------------------


def run_site(pages: int, seed: int, ready: Any) -> None:
    from aiohttp import web

    bank, others = split(load_photos())
    rng = np.random.default_rng(seed)
    pool = [changed(others[k % len(others)], rng)[0] for k in range(min(pages, 600))]
    plants = {i: changed(bank[b][1], rng) for i, b in planted(pages, len(bank)).items()}
    images = {i: plants[i][0] if i in plants else pool[i % len(pool)] for i in range(pages)}
    parts = (pages + SITEMAP_SIZE - 1) // SITEMAP_SIZE
    ns = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'

    async def sitemap_index(request: web.Request) -> web.Response:
        body = "".join(f"<sitemap><loc>/sitemap-{k}.xml</loc></sitemap>" for k in range(parts))
        return web.Response(text=f"<sitemapindex {ns}>{body}</sitemapindex>", content_type="application/xml")

    async def sitemap(request: web.Request) -> web.Response:
        k = int(request.match_info["k"])
        locs = range(k * SITEMAP_SIZE, min(pages, (k + 1) * SITEMAP_SIZE))
        body = "".join(f"<url><loc>/p/{i}.html</loc></url>" for i in locs)
        return web.Response(text=f"<urlset {ns}>{body}</urlset>", content_type="application/xml")

    async def page(request: web.Request) -> web.Response:
        i = int(request.match_info["i"])
        html = (
            f"<!doctype html><html><head><title>Post {i}</title>"
            f'<meta property="og:title" content="Post {i}"></head><body><h1>Post {i}</h1>'
            f'<p>{"Lorem ipsum dolor sit amet. " * 20}</p><img src="/img/{i}.jpg" alt="">'
            f'<a href="/p/{(i + 1) % pages}.html">next</a></body></html>'
        )
        return web.Response(text=html, content_type="text/html")

    async def image(request: web.Request) -> web.Response:
        return web.Response(body=images[int(request.match_info["i"])], content_type="image/jpeg")

    app = web.Application()
    app.router.add_get("/sitemap.xml", sitemap_index)
    app.router.add_get("/sitemap-{k}.xml", sitemap)
    app.router.add_get("/p/{i}.html", page)
    app.router.add_get("/img/{i}.jpg", image)

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        ready.put(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(main())


# -- measuring ------------------------------------------------------------------------------------


def score(report: ScanReport, base: str, expected: dict[int, str]) -> dict[str, Any]:
    found: dict[int, set[str]] = {}
    false = 0
    for c in report.candidates:
        i = int(c.media_url.removeprefix(base + "/img/").removesuffix(".jpg"))
        if expected.get(i) == c.content_id:
            found.setdefault(i, set()).add(c.content_id)
        else:
            false += 1
    distances = sorted(c.distance for c in report.candidates)
    s = report.stats
    return {
        "elapsed_s": round(s.elapsed_s, 2),
        "pages": s.pages,
        "images_hashed": s.hashed,
        "pages_per_s": round(s.pages / s.elapsed_s, 1),
        "images_per_s": round(s.hashed / s.elapsed_s, 1),
        "mb_per_s": round(s.bytes / s.elapsed_s / 1e6, 2),
        "planted": len(expected),
        "recall": len(found) / len(expected) if expected else 1.0,
        "missed": sorted(set(expected) - set(found)),
        "false_candidates": false,
        "candidate_distance_max": distances[-1] if distances else None,
        "errors": dict(s.errors),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", default="local1,local2,dask", help="which of local1, local2, dask to run")
    parser.add_argument(
        "--threshold", type=int, default=31, help="PDQ match distance (31, the scanner's default)"
    )
    parser.add_argument("--json", type=Path, default=RESULTS)
    parser.add_argument(
        "--no-robust",
        dest="robust",
        action="store_false",
        help="plain PDQ matching only (ScanOptions.robust)",
    )
    args = parser.parse_args()

    t0 = time.perf_counter()
    photos = load_photos()
    bank_photos, others = split(photos)
    entries = []
    for k, (name, im) in enumerate(bank_photos):
        out = io.BytesIO()
        im.save(out, "PNG")
        whole, *extra = robust_signals(out.getvalue())
        entries.append(
            BankEntry(
                f"bank-{k}:{name}", f"case-{k}", whole.hash, md5(out.getvalue()), whole.quality, tuple(extra)
            )
        )
    bank = BankSnapshot(entries, threshold=args.threshold)
    expected = {i: entries[b].content_id for i, b in planted(args.pages, len(entries)).items()}
    print(
        f"{len(photos)} distinct photos: {len(bank_photos)} in the bank, {len(others)} others",
        file=sys.stderr,
    )

    context = multiprocessing.get_context("spawn")
    ready = context.Queue()
    server = context.Process(target=run_site, args=(args.pages, args.seed, ready), daemon=True)
    server.start()
    port = ready.get(timeout=600)
    base = f"http://127.0.0.1:{port}"
    print(f"site ready on {base} after {time.perf_counter() - t0:.1f} s", file=sys.stderr)

    policy = FetchPolicy(allow_loopback=True)
    plain = ScanOptions(policy=policy, robust=args.robust)
    source = lambda: [Sitemap(base + "/sitemap.xml", max_pages=args.pages, max_sitemaps=1000)]  # noqa: E731
    results: dict[str, Any] = {}
    try:
        for run in args.runs.split(","):
            if run == "local1":
                label, report = "local, 1 process", scan(source(), bank, options=plain)
            elif run == "local2":
                options = ScanOptions(policy=policy, jobs=2, robust=args.robust)
                label, report = "local, --jobs 2", scan(source(), bank, options=options)
            elif run == "dask":
                from distributed import Client, LocalCluster

                with (
                    LocalCluster(
                        n_workers=2,
                        threads_per_worker=1,
                        processes=True,
                        host="127.0.0.1",
                        dashboard_address=None,
                        silence_logs=40,
                    ) as cluster,
                    Client(cluster) as client,
                ):
                    label = "dask, 2 workers"
                    report = scan(source(), bank, options=plain, scheduler=client)
            else:
                raise SystemExit(f"unknown run {run!r}")
            results[label] = score(report, base, expected)
            print(f"{label}: {json.dumps(results[label])}", file=sys.stderr)
    finally:
        server.terminate()

    matching = "robust matching" if args.robust else "plain PDQ matching (--no-robust)"
    print(
        f"\n{args.pages:,} pages, {len(expected)} planted copies; "
        f"{len(bank_photos)} bank photos; {matching}; threshold {args.threshold}\n"
    )
    print("| executor | pages/s | images/s | MB/s | elapsed s | recall | false candidates | errors |")
    print("|---|--:|--:|--:|--:|--:|--:|--|")
    for label, r in results.items():
        errors = ", ".join(f"{k} {v}" for k, v in r["errors"].items()) or "none"
        print(
            f"| {label} | {r['pages_per_s']:,} | {r['images_per_s']:,} | {r['mb_per_s']} | {r['elapsed_s']} "
            f"| {r['recall']:.2%} | {r['false_candidates']} | {errors} |"
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "pages": args.pages,
                "seed": args.seed,
                "threshold": args.threshold,
                "photos": len(photos),
                "bank_photos": len(bank_photos),
                "robust": args.robust,
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "results": results,
            },
            indent=2,
        )
    )
    return 0 if all(r["recall"] == 1.0 and r["false_candidates"] == 0 for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
