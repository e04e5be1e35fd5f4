"""The portal's in-browser robust signals (robust.js, hash-worker.js's ``extra``) against Python.

``robustSignalsFromRgba`` must give what ``haven.signals.robust_signals`` gives the same RGB
pixels: the same kinds (the same size and quality-floor decisions), hashes and qualities. The
worker decodes files with the browser's decoder, so its ``extra`` is compared with
``robust_signals(path)`` within a few bits, as test_js_hashing.py does for the whole-picture PDQ.

Served like test_js_hashing.py: a loopback server, a strict CSP, and any request elsewhere fails
the tests. Runs Debian's Chromium; skipped where it is missing, failed instead when
``HAVEN_TEST_REQUIRE_BROWSER=1`` (CI). Times are printed, never asserted.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageOps

from haven.signals import PdqHash
from haven.signals._robust import CROPS, QUALITY_FLOOR, robust_signals
from tests.signals.photolike import photo_like

from .harness import HarnessSite, open_harness

CSP = (
    "default-src 'none'; script-src 'self'; worker-src 'self'; connect-src 'self'; "
    "img-src 'self' blob:; base-uri 'none'; form-action 'none'"
)
PAGE = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>robust signals test</title>
<script type="module" src="/harness.js"></script></head><body></body></html>
"""
HARNESS = b"""
import { pdqFromRgba } from "/static/portal/pdq.js";
import { robustSignalsFromRgba } from "/static/portal/robust.js";

async function bytesOf(name) {
  const response = await fetch("/data/" + name);
  if (!response.ok) throw new Error("no test data " + name);
  return new Uint8Array(await response.arrayBuffer());
}

window.robustOf = async (items) => {
  const out = [];
  for (const [name, width, height] of items) {
    const pixels = new Uint8ClampedArray((await bytesOf(name)).buffer);
    out.push(robustSignalsFromRgba(pixels, width, height));
  }
  return out;
};

window.timedRobust = async (name, width, height, runs) => {
  const pixels = new Uint8ClampedArray((await bytesOf(name)).buffer);
  const pdqMs = [];
  const robustMs = [];
  let signals;
  for (let i = 0; i < runs; i++) {
    let start = performance.now();
    pdqFromRgba(pixels, width, height);
    pdqMs.push(performance.now() - start);
    start = performance.now();
    signals = robustSignalsFromRgba(pixels, width, height);
    robustMs.push(performance.now() - start);
  }
  return { signals, pdqMs, robustMs };
};

window.hashInWorker = async (name, options) => {
  const blob = new Blob([await bytesOf(name)]);
  const worker = new Worker("/static/portal/hash-worker.js", { type: "module" });
  const start = performance.now();
  return await new Promise((resolve) => {
    worker.onmessage = ({ data }) => {
      if (data.type === "progress") return;
      worker.terminate();
      resolve({ ...data, ms: performance.now() - start });
    };
    worker.onerror = (event) => {
      worker.terminate();
      resolve({ type: "crash", error: String(event.message) });
    };
    worker.postMessage({ id: 9, file: blob, ...options });
  });
};

window.harnessReady = true;
"""


Site = HarnessSite


@pytest.fixture(scope="module")
def site(browser: Any) -> Iterator[Site]:
    yield from open_harness(browser, page=PAGE, harness=HARNESS, csp=CSP)


Signals = list[tuple[str, str, int]]


def _images(vectors: Path) -> list[Path]:
    return sorted(
        p for p in (vectors / "pdq").rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"}
    )


def _rgba(rgb: np.ndarray) -> bytes:
    alpha = np.full(rgb.shape[:2], 255, dtype=np.uint8)
    return np.dstack([rgb, alpha]).tobytes()


def _upright_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))


def _python(source: Any) -> Signals:
    return [(s.kind, str(s.hash), s.quality) for s in robust_signals(source)]


def _js(signals: list[dict[str, Any]]) -> Signals:
    return [(s["kind"], s["hash"], s["quality"]) for s in signals]


def _distance(a: str, b: str) -> int:
    return PdqHash.from_hex(a).distance(PdqHash.from_hex(b))


def _compare(site: Site, pictures: list[np.ndarray], batch: int = 20) -> tuple[int, int, list[str]]:
    """(pictures identical, signals compared, descriptions of the differences)."""
    identical = 0
    signals = 0
    wrong: list[str] = []
    for start in range(0, len(pictures), batch):
        chunk = pictures[start : start + batch]
        items = [
            [site.put(f"p{start + i}", _rgba(rgb)), rgb.shape[1], rgb.shape[0]] for i, rgb in enumerate(chunk)
        ]
        got = site.call("robustOf", items)
        site.data.clear()
        for i, (rgb, js) in enumerate(zip(chunk, got, strict=True)):
            expected = _python(rgb)
            signals += len(expected)
            if _js(js) == expected:
                identical += 1
            else:
                wrong.append(
                    f"picture {start + i} ({rgb.shape[1]} x {rgb.shape[0]}): js {_js(js)}, python {expected}"
                )
    return identical, signals, wrong


def test_robust_js_is_bit_exact_with_python_on_every_vector_image(site: Site, vectors: Path) -> None:
    pictures = [_upright_rgb(path) for path in _images(vectors)]
    identical, signals, wrong = _compare(site, pictures, batch=8)
    print(f"\nvector pixels: {identical}/{len(pictures)} identical ({signals} signals: kind, hash, quality)")
    assert len(pictures) >= 40
    assert not wrong, wrong


def test_robust_js_matches_python_on_generated_photo_like_pictures(site: Site) -> None:
    rng = np.random.default_rng(20240612)
    # Up to 640 px a side: no reduction or a factor of 2, and small pictures whose crops are
    # under 32 px; then larger ones for factors of 2 and 4.
    pictures = [photo_like(rng) for _ in range(300)]
    pictures += [photo_like(rng, max_side=2200, min_side=512) for _ in range(16)]
    identical, signals, wrong = _compare(site, pictures)
    print(f"\ngenerated: {identical}/{len(pictures)} identical ({signals} signals: kind, hash, quality)")
    # Python applies its operators through BLAS, whose rounding depends on the CPU: allow for
    # a coefficient that sits within that rounding of the median (docs/portal-hashing.md).
    assert identical / len(pictures) >= 0.995, wrong


def test_flat_crops_are_left_out_in_the_browser_as_in_python(site: Site) -> None:
    rng = np.random.default_rng(3)
    sky = np.full((600, 800, 3), (90, 140, 220), dtype=np.uint8)
    photo = photo_like(rng, max_side=400, min_side=300)
    sky[-photo.shape[0] :, -photo.shape[1] :] = photo  # a photo in the bottom-right corner of flat sky
    flat = np.full((300, 300, 3), 128, dtype=np.uint8)
    got = site.call(
        "robustOf",
        [[site.put("sky", _rgba(sky)), 800, 600], [site.put("flat", _rgba(flat)), 300, 300]],
    )
    site.data.clear()
    assert _js(got[0]) == _python(sky)
    assert "corner60_tl" not in [s["kind"] for s in got[0]]
    assert "corner60_br" in [s["kind"] for s in got[0]]
    assert _js(got[1]) == _python(flat)
    assert [s["kind"] for s in got[1]] == ["pdq"]


def test_on_mirror_symmetric_pictures_kinds_and_qualities_still_agree(site: Site) -> None:
    # In a picture that is its own mirror image, half the DCT coefficients are exactly zero, so
    # which of them lie above the median is decided by rounding noise: numpy's BLAS and this
    # port round differently, and the hash bits differ (as they do between two CPUs running
    # Python). The samples agree to the last few bits, so the quality, and with it the
    # floor's decision, still agrees.
    rng = np.random.default_rng(17)
    pictures = []
    for i in range(8):
        half = photo_like(rng, max_side=400, min_side=64)
        mirrored = (
            np.concatenate([half, half[:, ::-1]], axis=1) if i % 2 else np.concatenate([half, half[::-1]])
        )
        pictures.append(np.ascontiguousarray(mirrored))
    items = [
        [site.put(f"mirror{i}", _rgba(rgb)), rgb.shape[1], rgb.shape[0]] for i, rgb in enumerate(pictures)
    ]
    got = site.call("robustOf", items)
    site.data.clear()
    same_hash = 0
    signals = 0
    for rgb, js in zip(pictures, got, strict=True):
        expected = _python(rgb)
        assert [(k, q) for k, _, q in _js(js)] == [(k, q) for k, _, q in expected]
        signals += len(expected)
        same_hash += sum(a == b for a, b in zip(_js(js), expected, strict=True))
    print(f"\nmirror-symmetric: kinds and qualities identical; {same_hash}/{signals} hashes identical")


def test_robust_js_at_12_megapixels_is_exact_and_timed(site: Site) -> None:
    rng = np.random.default_rng(12)
    grid = rng.integers(0, 256, size=(9, 12, 3), dtype=np.uint8)
    smooth = np.asarray(Image.fromarray(grid, "RGB").resize((4000, 3000), Image.Resampling.BICUBIC))
    noisy = smooth.astype(np.int16) + rng.normal(0.0, 8.0, size=smooth.shape).astype(np.int16)
    rgb = np.clip(noisy, 0, 255).astype(np.uint8)
    started = time.perf_counter()
    expected = _python(rgb)
    python_ms = (time.perf_counter() - started) * 1000
    js = site.call("timedRobust", site.put("big", _rgba(rgb)), 4000, 3000, 5)
    site.data.clear()
    pdq_ms = ", ".join(f"{t:.0f}" for t in js["pdqMs"])
    robust_ms = ", ".join(f"{t:.0f}" for t in js["robustMs"])
    print(
        f"\n12 MP (4000 x 3000, reduced by 8): JS pdqFromRgba {pdq_ms} ms, robustSignalsFromRgba "
        f"{robust_ms} ms (5 runs); Python robust_signals {python_ms:.0f} ms; {len(expected)} signals"
    )
    assert _js(js["signals"]) == expected
    assert len(expected) == 1 + len(CROPS)


def _crop_distances(
    label: str, js: dict[str, dict[str, Any]], python: list[Any], problems: list[str]
) -> list[int]:
    """Distances per crop kind both have; a kind only one has is a problem unless near the floor."""
    theirs = {s.kind: s for s in python}
    distances = []
    for kind in CROPS:
        if (kind in js) != (kind in theirs):
            # A crop near the floor may fall on either side of it after a different decoder.
            quality = js[kind]["quality"] if kind in js else theirs[kind].quality
            if abs(quality - QUALITY_FLOOR) > 10:
                problems.append(f"{label} {kind}: only in {'JS' if kind in js else 'Python'}, q{quality}")
        elif kind in js:
            distances.append(_distance(js[kind]["pdq"], str(theirs[kind].hash)))
    return distances


def test_the_worker_returns_extra_close_to_python_for_each_vector_file(site: Site, vectors: Path) -> None:
    rows = []
    problems: list[str] = []
    for i, path in enumerate(_images(vectors)):
        result = site.call("hashInWorker", site.put(f"file{i}", path.read_bytes()), {})
        site.data.clear()
        label = str(path.relative_to(vectors / "pdq"))
        if result["type"] == "error":
            continue  # files the browser cannot decode: test_js_hashing.py checks the message
        assert result["type"] == "result", (label, result)
        extra = result["extra"]
        assert all(set(entry) == {"kind", "pdq", "quality"} for entry in extra), label
        assert all(entry["quality"] >= QUALITY_FLOOR for entry in extra), label
        assert [e["kind"] for e in extra] == [k for k in CROPS if k in {e["kind"] for e in extra}], label
        js = {e["kind"]: e for e in extra}
        # robust_signals(path) decodes large files at reduced size (JPEG DCT scaling), which
        # moves a crop's hash more than the browser's full-size decode does; Pillow's picture
        # decoded at full size (orientation and 16-bit scaling as robust_signals applies them)
        # is the fair comparison for the browser's decoder.
        by_path = _crop_distances(label, js, robust_signals(path), problems)
        with Image.open(path) as im:
            by_pixels = _crop_distances(label, js, robust_signals(im), problems)
        rows.append((label, len(extra), max(by_path, default=0), max(by_pixels, default=0), result["ms"]))
    print("\nworker extra on the vector files (crops, max distance to robust_signals(path), to")
    print("robust_signals(the full-size Pillow picture), ms in the worker):")
    for label, n, path_bits, pixel_bits, ms in rows:
        print(f"  {label:48} {n:2d}  {path_bits:3d}  {pixel_bits:3d}  {ms:6.0f} ms")
    print(
        f"  decoded {len(rows)}; max distance {max(r[2] for r in rows)} bits to robust_signals(path), "
        f"{max(r[3] for r in rows)} bits to the full-size pixels"
    )
    assert len(rows) >= 40
    assert not problems, problems
    assert max(r[3] for r in rows) <= 8, rows
    assert max(r[2] for r in rows) <= 24, rows


def _jpeg_12_megapixels(vectors: Path) -> bytes:
    with Image.open(vectors / "pdq" / "bridge-mods" / "aaa-orig.jpg") as im:
        big = im.convert("RGB").resize((4000, 3000), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    big.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def test_the_worker_on_a_12_megapixel_jpeg_with_and_without_extra(
    site: Site, vectors: Path, tmp_path: Path
) -> None:
    data = _jpeg_12_megapixels(vectors)
    path = tmp_path / "twelve-megapixels.jpg"
    path.write_bytes(data)
    name = site.put("twelve", data)
    plain: list[dict[str, Any]] = []
    robust: list[dict[str, Any]] = []
    for _ in range(5):  # interleaved, so that a busy machine slows both alike
        plain.append(site.call("hashInWorker", name, {"extra": False}))
        robust.append(site.call("hashInWorker", name, {}))
    site.data.clear()
    for result in plain + robust:
        assert result["type"] == "result", result
    assert all("extra" not in r for r in plain)
    assert {r["pdq"] for r in plain} == {r["pdq"] for r in robust}
    python = {s.kind: s for s in robust_signals(path)}
    extra = {e["kind"]: e for e in robust[0]["extra"]}
    assert set(extra) == set(python) - {"pdq"}
    distances = {kind: _distance(e["pdq"], str(python[kind].hash)) for kind, e in extra.items()}
    plain_ms = sorted(r["ms"] for r in plain)
    robust_ms = sorted(r["ms"] for r in robust)
    print(
        f"\n12 MP JPEG ({len(data) / 1e6:.1f} MB) through the worker (read, digest, decode, hash), "
        f"median of 5: without extra {plain_ms[2]:.0f} ms (fastest {plain_ms[0]:.0f}), with extra "
        f"{robust_ms[2]:.0f} ms (fastest {robust_ms[0]:.0f}); crops {max(distances.values())} bits "
        f"at most from robust_signals(path)"
    )
    assert max(distances.values()) <= 8
