"""Videos in the portal, in a real browser: one PDQ hash a second, made on the device.

The test videos are made here with PyAV (VP8 in WebM, which every Chromium plays, and H.264 in
MP4, which Debian's Chromium plays too): a crop panning across a vector photograph, so that
consecutive samples differ. The browser's frame hashes
(video.js) are compared with the server's Python vPDQ of the same file, and then the video goes
through the portal while every request is watched: none may carry any 64-byte run of the file.

Runs Debian's Chromium; skipped where it is missing, failed instead when
``HAVEN_TEST_REQUIRE_BROWSER=1`` (CI).
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from haven.signals import PdqHash, VideoFrame, match_video, video_hash

from .harness import serve_harness

PHOTO = "bridge-mods/aaa-orig.jpg"
SECONDS, FPS, WIDTH, HEIGHT = 6, 10, 320, 240
# Measured with Debian's Chromium 156: 0, 0, 0, 0, 0 and 2 bits for the six frames of the WebM,
# 0 for all six of the MP4 (the decoders differ only in rounding). 16 leaves room for other
# decoders' colour conversion while staying far below PDQ's match threshold of 31.
MAX_FRAME_DISTANCE = 16
WINDOW = 64
CSP = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; media-src 'self' blob:; "
    "base-uri 'none'; form-action 'none'"
)
PAGE = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>video test</title>
<script type="module" src="/harness.js"></script></head><body></body></html>
"""
HARNESS = b"""
import { videoFrames } from "/static/portal/video.js";

window.framesOf = async (name, type) => {
  const response = await fetch("/data/" + name);
  const blob = new Blob([await response.arrayBuffer()], { type });
  const fractions = [];
  try {
    const frames = await videoFrames(blob, { secondsPerFrame: 1, onProgress: (f) => fractions.push(f) });
    return { frames, fractions };
  } catch (error) {
    return { error: String(error.message), kind: error.constructor.name };
  }
};

window.harnessReady = true;
"""


CODECS = {"webm": ("libvpx", "video/webm"), "mp4": ("libx264", "video/mp4")}


def make_video(photo: Path, path: Path) -> Path:
    """A 6 s, 10 fps, 320x240 video (VP8 WebM or H.264 MP4, by the file's suffix): a crop
    panning right and down across the photo."""
    import av

    with Image.open(photo) as im:
        source = np.asarray(im.convert("RGB").resize((WIDTH * 2, HEIGHT * 2)))
    frames = SECONDS * FPS
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(CODECS[path.suffix[1:]][0], rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.bit_rate = 2_000_000
        for n in range(frames):
            x = round(n * WIDTH / (frames - 1))
            y = round(n * HEIGHT / (frames - 1))
            crop = np.ascontiguousarray(source[y : y + HEIGHT, x : x + WIDTH])
            frame = av.VideoFrame.from_ndarray(crop, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture(scope="module")
def videos(vectors: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("video")
    return {kind: make_video(vectors / "pdq" / PHOTO, folder / f"panning.{kind}") for kind in CODECS}


@pytest.fixture(scope="module")
def video(videos: dict[str, Path]) -> Path:
    return videos["webm"]


@pytest.fixture(scope="module")
def frames_of(browser: Any, videos: dict[str, Path]) -> Iterator[Any]:
    """Calls video.js on a file in a page of its own, with every outside request refused."""
    data = {p.name: p.read_bytes() for p in videos.values()}
    data["notes.webm"] = b"this is not a video at all" * 40
    problems: list[str] = []
    server = serve_harness(page=PAGE, harness=HARNESS, csp=CSP, data=data, problems=problems)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    context = browser.new_context()
    context.route(
        lambda url: not url.startswith(origin + "/") and not url.startswith("blob:"),
        lambda route: (problems.append(f"outside request {route.request.url}"), route.abort()),
    )
    page = context.new_page()
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(origin + "/")
    page.wait_for_function("window.harnessReady === true", timeout=10_000)

    def call(name: str, type_: str = "video/webm") -> Any:
        return page.evaluate("([n, t]) => window.framesOf(n, t)", [name, type_])

    try:
        yield call
    finally:
        context.close()
        server.shutdown()
        server.server_close()
    assert not problems, problems


def _as_frames(js: list[dict[str, Any]]) -> list[VideoFrame]:
    return [VideoFrame(f["frame"], f["quality"], PdqHash.from_hex(f["pdq"]), f["seconds"]) for f in js]


@pytest.mark.parametrize("kind", list(CODECS))
def test_the_browser_hashes_one_frame_a_second_like_the_server(
    frames_of: Any, videos: dict[str, Path], kind: str
) -> None:
    video = videos[kind]
    python = video_hash(video, seconds_per_hash=1.0)
    result = frames_of(video.name, CODECS[kind][1])
    assert "error" not in result, result
    js = result["frames"]
    assert [f["frame"] for f in js] == list(range(SECONDS))
    assert [f["seconds"] for f in js] == list(range(SECONDS))
    assert [round(f.timestamp) for f in python] == list(range(SECONDS))
    assert result["fractions"][-1] == 1
    distances = []
    for mine, theirs in zip(_as_frames(js), python, strict=True):
        if min(mine.quality, theirs.quality) >= 50:
            distances.append(mine.hash.distance(theirs.hash))
    print(f"{kind}: JS vs Python frame distances: {distances}")  # the measured distribution, with -s
    assert len(distances) == SECONDS
    assert max(distances) <= MAX_FRAME_DISTANCE, distances
    # Consecutive samples differ: the pan moves the picture by 53 by 40 pixels a second.
    assert all(a.hash.distance(b.hash) > MAX_FRAME_DISTANCE for a, b in itertools.pairwise(python))
    match = match_video(_as_frames(js), python)
    assert match.matched
    assert match.target_percent == match.query_percent == 100.0


def test_a_file_the_browser_cannot_play_gets_a_clear_error(frames_of: Any) -> None:
    result = frames_of("notes.webm")
    assert result.get("kind") == "VideoError", result
    assert "cannot play" in result["error"]


def _runs(data: bytes) -> set[bytes]:
    return {data[i : i + WINDOW] for i in range(len(data) - WINDOW + 1)}


def _carries_any(body: bytes, runs: set[bytes]) -> bool:
    return any(body[i : i + WINDOW] in runs for i in range(len(body) - WINDOW + 1))


@pytest.mark.usefixtures("transactional_db")
def test_a_video_goes_through_the_portal_as_frame_hashes_only(
    browser: Any, live_server: Any, video: Path
) -> None:
    from django.core.cache import cache
    from playwright.sync_api import expect

    from haven.web.accounts.models import Organisation
    from haven.web.cases.matching import ContentIndex
    from haven.web.cases.models import Case, ContentItem

    cache.clear()
    org = Organisation.objects.create(
        name="Seoul Support Centre", slug="seoul", country="KR", time_zone="Asia/Seoul"
    )
    raw = video.read_bytes()
    runs = _runs(raw)
    bodies: list[bytes] = []
    foreign: list[str] = []

    def route(r: Any) -> None:
        url: str = r.request.url
        if url.startswith(live_server.url) or url.startswith("blob:"):
            bodies.append(r.request.post_data_buffer or b"")
            r.continue_()
        else:
            foreign.append(url)
            r.abort()

    context = browser.new_context(locale="en-GB")
    context.route("**/*", route)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_server.url}/portal/submit/?lang=en")
    page.wait_for_load_state()
    chooser = page.get_by_label("Choose up to 20 pictures or videos")
    # A "video" the browser cannot play is refused on the device and never sent.
    chooser.set_input_files([{"name": "broken.webm", "mimeType": "video/webm", "buffer": b"no video" * 99}])
    expect(page.locator(".file--failed")).to_contain_text("could not be played in this browser")
    chooser.set_input_files([{"name": "clip.webm", "mimeType": "video/webm", "buffer": raw}])
    expect(page.locator(".file")).to_have_count(2)
    expect(page.locator(".thumb--video")).to_have_count(2)
    expect(page.locator(".file__state", has_text="Ready")).to_have_count(1, timeout=60_000)
    assert page.locator("progress").nth(1).evaluate("p => p.value") == 1
    page.get_by_label("Search for copies").check()
    page.get_by_role("button", name="Send the fingerprints").click()
    expect(page.get_by_role("heading", name="Received. Keep these safe.")).to_be_visible()
    number = page.locator("#case-number").inner_text()
    context.close()
    cache.clear()

    assert not problems, problems
    assert not foreign, foreign
    sent = [b for b in bodies if b]
    assert len(sent) == 1
    assert len(sent[0]) < 4096, len(sent[0])  # 6 frame hashes, digests and choices
    assert not any(_carries_any(b, runs) for b in bodies)

    case = Case.objects.get(number=number, organisation=org)
    (item,) = ContentItem.objects.filter(case=case)
    assert (item.kind, item.label, item.pdq) == ("video", "video 1", "")
    assert [f[0] for f in item.video_frames] == list(range(SECONDS))
    assert item.sha256 == hashlib.sha256(raw).hexdigest()
    assert item.md5 == hashlib.md5(raw).hexdigest()  # noqa: S324 - an exact-copy digest, as sent
    # A counsellor's lookup of one of the frames, as the server hashes it, finds the video.
    frame = video_hash(video, seconds_per_hash=1.0)[3]
    hits = ContentIndex().lookup(org.pk, pdq=[frame.hash])
    assert [h.item_id for h in hits] == [item.pk]
