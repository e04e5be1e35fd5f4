"""The portal's in-browser hashing (pdq.js, md5.js, hash-worker.js) against the Python implementation.

The static files are served without Django, by a small server on 127.0.0.1 that answers from
the portal's static folder, a test page and in-memory test data (a loopback origin is a secure
context, which Web Crypto needs; Playwright's request routing would also work but moves large
bodies at a few MB/s). The page carries a strict CSP with no inline script, like the portal,
and every request to anywhere else is aborted and fails the tests.

Runs Debian's Chromium; skipped where it is missing, failed instead when
``HAVEN_TEST_REQUIRE_BROWSER=1`` (CI).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageOps

from haven.signals import PdqHash, pdq_hash
from tests.signals.photolike import photo_like

from .harness import HarnessSite, open_harness

# Vector files with transparent pixels (only one: the RGBA/LA photographs are fully opaque).
# pytx/LA.png is random noise under random alpha, the worst case for a 2D canvas, which keeps
# colours premultiplied; the worker reads pixels through WebGL to get the stored colours exactly.
TRANSLUCENT = {"pytx/LA.png"}
CSP = (
    "default-src 'none'; script-src 'self'; worker-src 'self'; connect-src 'self'; "
    "img-src 'self' blob:; base-uri 'none'; form-action 'none'"
)
PAGE = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hashing test</title>
<script type="module" src="/harness.js"></script></head><body></body></html>
"""
HARNESS = b"""
import { pdqFromRgba } from "/static/portal/pdq.js";
import { md5Hex } from "/static/portal/md5.js";

async function bytesOf(name) {
  const response = await fetch("/data/" + name);
  if (!response.ok) throw new Error("no test data " + name);
  return new Uint8Array(await response.arrayBuffer());
}

window.pdqOf = async (items) => {
  const out = [];
  for (const [name, width, height] of items) {
    const pixels = new Uint8ClampedArray((await bytesOf(name)).buffer);
    out.push(pdqFromRgba(pixels, width, height));
  }
  return out;
};

window.timedPdq = async (name, width, height, runs) => {
  const pixels = new Uint8ClampedArray((await bytesOf(name)).buffer);
  const times = [];
  let result;
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    result = pdqFromRgba(pixels, width, height);
    times.push(performance.now() - start);
  }
  return { ...result, times };
};

window.pdqError = (width, height) => {
  try {
    pdqFromRgba(new Uint8ClampedArray(width * height * 4), width, height);
    return null;
  } catch (error) {
    return String(error.message);
  }
};

window.md5Of = async (names) => {
  const out = [];
  for (const name of names) out.push(md5Hex((await bytesOf(name)).buffer));
  return out;
};

window.hashInWorker = async (name) => {
  const blob = new Blob([await bytesOf(name)]);
  const worker = new Worker("/static/portal/hash-worker.js", { type: "module" });
  const start = performance.now();
  return await new Promise((resolve) => {
    const stages = [];
    worker.onmessage = ({ data }) => {
      if (data.type === "progress") {
        if (!stages.includes(data.stage)) stages.push(data.stage);
        return;
      }
      worker.terminate();
      resolve({ ...data, stages, ms: performance.now() - start });
    };
    worker.onerror = (event) => {
      worker.terminate();
      resolve({ type: "crash", error: String(event.message) });
    };
    worker.postMessage({ id: 7, file: blob });
  });
};

window.harnessReady = true;
"""


Site = HarnessSite


@pytest.fixture(scope="module")
def site(browser: Any) -> Iterator[Site]:
    yield from open_harness(browser, page=PAGE, harness=HARNESS, csp=CSP)


def _images(vectors: Path) -> list[Path]:
    return sorted(
        p for p in (vectors / "pdq").rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"}
    )


def _rgba(rgb: np.ndarray) -> bytes:
    alpha = np.full(rgb.shape[:2], 255, dtype=np.uint8)
    return np.dstack([rgb, alpha]).tobytes()


def _upright_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        upright = ImageOps.exif_transpose(im)
        return np.asarray(upright.convert("RGB"))


def _distance(a: str, b: str) -> int:
    return PdqHash.from_hex(a).distance(PdqHash.from_hex(b))


def test_pdq_js_is_bit_exact_with_python_on_every_vector_image(site: Site, vectors: Path) -> None:
    items = []
    expected = {}
    for i, path in enumerate(_images(vectors)):
        rgb = _upright_rgb(path)
        name = site.put(f"vector{i}", _rgba(rgb))
        items.append([name, rgb.shape[1], rgb.shape[0]])
        result = pdq_hash(rgb)
        expected[name] = (path, str(result.hash), result.quality, [str(h) for h in result.dihedral()])
    got = site.call("pdqOf", items)
    site.data.clear()

    wrong = []
    for (name, _, _), js in zip(items, got, strict=True):
        path, hash_hex, quality, dihedral = expected[name]
        if (js["hash"], js["quality"], js["dihedral"]) != (hash_hex, quality, dihedral):
            wrong.append(f"{path.name}: js {js['hash']} q{js['quality']}, python {hash_hex} q{quality}")
    print(f"\nvector pixels: {len(items) - len(wrong)}/{len(items)} exact (hash, quality, 8 dihedral)")
    assert len(items) >= 40
    assert not wrong, wrong


def test_pdq_js_matches_python_on_generated_photo_like_pictures(site: Site) -> None:
    rng = np.random.default_rng(20240611)
    count = 240
    items = []
    expected = []
    for i in range(count):
        rgb = photo_like(rng)
        items.append([site.put(f"gen{i}", _rgba(rgb)), rgb.shape[1], rgb.shape[0]])
        result = pdq_hash(rgb)
        expected.append((str(result.hash), result.quality, [str(h) for h in result.dihedral()]))
    got = []
    for start in range(0, count, 40):
        got += site.call("pdqOf", items[start : start + 40])
    site.data.clear()

    exact = sum(js["hash"] == e[0] for js, e in zip(got, expected, strict=True))
    quality = sum(js["quality"] == e[1] for js, e in zip(got, expected, strict=True))
    dihedral = sum(js["dihedral"] == e[2] for js, e in zip(got, expected, strict=True))
    worst = max(_distance(js["hash"], e[0]) for js, e in zip(got, expected, strict=True))
    print(
        f"\ngenerated: hash exact {exact}/{count}, quality exact {quality}/{count}, "
        f"8 dihedral exact {dihedral}/{count}, max distance {worst} bits"
    )
    assert exact / count >= 0.995
    assert dihedral / count >= 0.995
    assert quality / count >= 0.995
    assert worst <= 2


def test_pdq_js_at_12_megapixels_is_exact_and_timed(site: Site) -> None:
    rng = np.random.default_rng(12)
    grid = rng.integers(0, 256, size=(9, 12, 3), dtype=np.uint8)
    smooth = np.asarray(Image.fromarray(grid, "RGB").resize((4000, 3000), Image.Resampling.BICUBIC))
    noisy = smooth.astype(np.int16) + rng.normal(0.0, 8.0, size=smooth.shape).astype(np.int16)
    rgb = np.clip(noisy, 0, 255).astype(np.uint8)
    started = time.perf_counter()
    expected = pdq_hash(rgb)
    python_ms = (time.perf_counter() - started) * 1000
    name = site.put("big", _rgba(rgb))
    js = site.call("timedPdq", name, 4000, 3000, 3)
    site.data.clear()
    times = ", ".join(f"{t:.0f}" for t in js["times"])
    print(f"\n12 MP (4000 x 3000): JS pdqFromRgba {times} ms (3 runs); Python pdq_hash {python_ms:.0f} ms")
    assert (js["hash"], js["quality"]) == (str(expected.hash), expected.quality)


def test_pdq_js_refuses_pictures_under_5_pixels(site: Site) -> None:
    assert "at least 5 x 5" in site.call("pdqError", 4, 100)
    assert "at least 5 x 5" in site.call("pdqError", 100, 4)
    assert site.call("pdqError", 5, 5) is None


def test_md5_js_matches_hashlib(site: Site, vectors: Path) -> None:
    rng = np.random.default_rng(5)
    payloads = [rng.integers(0, 256, size=n, dtype=np.uint8).tobytes() for n in range(0, 200)]
    payloads += [rng.integers(0, 256, size=n, dtype=np.uint8).tobytes() for n in (4095, 65536, 1_000_003)]
    payloads += [p.read_bytes() for p in _images(vectors)]
    names = [site.put(f"md5-{i}", p) for i, p in enumerate(payloads)]
    got = site.call("md5Of", names)
    site.data.clear()
    assert got == [hashlib.md5(p).hexdigest() for p in payloads]  # noqa: S324 - MD5 is the format under test


def test_the_worker_hashes_each_vector_file_like_python(site: Site, vectors: Path) -> None:
    rows = []
    undecodable = []
    far = []
    for i, path in enumerate(_images(vectors)):
        data = path.read_bytes()
        result = site.call("hashInWorker", site.put(f"file{i}", data))
        site.data.clear()
        label = str(path.relative_to(vectors / "pdq"))
        if result["type"] == "error":
            assert result["error"], (label, result)
            assert "could not be hashed" not in result["error"], (label, result)
            undecodable.append(f"{label}: {result['error']}")
            continue
        assert result["type"] == "result", (label, result)
        assert result["id"] == 7
        assert result["md5"] == hashlib.md5(data).hexdigest(), label  # noqa: S324 - the format under test
        assert result["sha256"] == hashlib.sha256(data).hexdigest(), label
        assert result["stages"] == ["reading", "digesting", "decoding", "hashing"], label
        assert not result["scaled"], label
        python = pdq_hash(path)
        upright = _upright_rgb(path)
        assert (result["height"], result["width"]) == upright.shape[:2], label
        distance = _distance(result["pdq"], str(python.hash))
        rows.append((label, distance, result["quality"], python.quality, result["ms"]))
        assert result["translucent"] == (label in TRANSLUCENT), label
        if distance > 4:
            far.append(f"{label}: {distance} bits")
    print("\nworker on the vector files (distance to pdq_hash(path), JS/Python quality, ms):")
    for label, distance, q_js, q_py, ms in rows:
        print(f"  {label:48} {distance:3d}  q{q_js}/{q_py}  {ms:6.0f} ms")
    print(f"  decoded {len(rows)}, max distance {max(r[1] for r in rows)} bits; not decodable: {undecodable}")
    assert len(rows) >= 40
    assert not far, far


def test_the_worker_rejects_a_text_file(site: Site) -> None:
    result = site.call("hashInWorker", site.put("text", b"Dear diary, this is not a picture.\n" * 20))
    assert result["type"] == "error"
    assert "not a picture" in result["error"]


def test_the_worker_rejects_a_truncated_jpeg(site: Site, vectors: Path) -> None:
    data = (vectors / "pdq" / "bridge-mods" / "aaa-orig.jpg").read_bytes()
    result = site.call("hashInWorker", site.put("cut", data[: len(data) // 2]))
    assert result["type"] == "error"
    assert "incomplete" in result["error"]


def test_the_worker_rejects_a_corrupt_png_and_a_tiny_picture(site: Site) -> None:
    import io

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 10, 10)).save(buffer, "PNG")
    tiny = buffer.getvalue()
    result = site.call("hashInWorker", site.put("tiny", tiny))
    assert result["type"] == "error"
    assert "too small" in result["error"]

    garbled = tiny[:16] + bytes(64)
    result = site.call("hashInWorker", site.put("garbled", garbled))
    assert result["type"] == "error"
    assert "PNG" in result["error"]


def test_the_worker_hashes_a_50_megapixel_photo(site: Site, vectors: Path, tmp_path: Path) -> None:
    import io
    import time

    with Image.open(vectors / "pdq" / "bridge-mods" / "aaa-orig.jpg") as im:
        big = im.convert("RGB").resize((8660, 5773), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    big.save(buffer, "JPEG", quality=85)
    del big
    path = tmp_path / "fifty-megapixels.jpg"
    path.write_bytes(buffer.getvalue())
    start = time.perf_counter()
    result = site.call("hashInWorker", site.put("fifty", buffer.getvalue()))
    seconds = time.perf_counter() - start
    site.data.clear()
    assert result["type"] == "result", result
    assert (result["width"], result["height"]) == (8660, 5773)
    python = pdq_hash(path)
    distance = _distance(result["pdq"], str(python.hash))
    print(
        f"\n50 MP JPEG ({len(buffer.getvalue()) / 1e6:.1f} MB): worker {seconds:.1f} s in the page "
        f"({result['hashedWidth']} x {result['hashedHeight']} hashed), {distance} bits from pdq_hash(path)"
    )
    assert distance <= 4
