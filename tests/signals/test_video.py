"""vPDQ: per-frame PDQ of videos against the reference outputs, and video-to-video matching."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from haven.signals import (
    CorruptVideoError,
    EmptyInputError,
    NotAVideoError,
    VideoFrame,
    match_video,
    parse_vpdq,
    video_hash,
)


def expected(vectors: Path, name: str) -> list[VideoFrame]:
    with (vectors / "vpdq" / "expected" / f"{name}.txt").open() as fh:
        return parse_vpdq(fh)


def videos(vectors: Path) -> list[Path]:
    return sorted((vectors / "vpdq" / "videos").glob("*.mp4"))


def test_every_reference_video_hashes_like_the_reference(vectors: Path) -> None:
    files = videos(vectors)
    assert len(files) == 9
    distances = []
    for path in files:
        ours = video_hash(path)
        reference = expected(vectors, path.stem)
        assert [f.frame for f in ours] == [f.frame for f in reference], path.name
        assert [f.timestamp for f in ours] == pytest.approx([f.timestamp for f in reference], abs=0.002)
        for a, b in zip(ours, reference, strict=True):
            assert abs(a.quality - b.quality) <= 2, (path.name, a.frame)
            if a.quality >= 50 and b.quality >= 50:
                distances.append(a.hash - b.hash)
    d = np.array(distances)
    assert len(d) > 2000
    assert d.max() < 31  # the reference's own rule across FFmpeg versions
    assert np.percentile(d, 95) <= 6, np.bincount(d)


def test_sampling_one_frame_per_second(vectors: Path) -> None:
    path = vectors / "vpdq" / "videos" / "chair-19-sd-bar.mp4"
    every = video_hash(path)
    sampled = video_hash(path, seconds_per_hash=1.0)
    duration = every[-1].timestamp
    assert len(sampled) == int(duration) + 1
    assert all(b.timestamp - a.timestamp >= 0.99 for a, b in itertools.pairwise(sampled))
    by_frame = {f.frame: f for f in every}
    assert all(by_frame[f.frame] == f for f in sampled)
    # A survivor's one-per-second list is found in the full video.
    assert match_video(every, sampled).matched


# Versions of one recording that plain vPDQ is expected to match.  (The pattern videos with a
# large logo, or re-framed in HD without bars, differ by more than frame-wise PDQ survives.)
CHAIRS = ["chair-19-sd-bar", "chair-orig-22-sd-bar", "chair-22-sd-grey-bar", "chair-22-with-small-logo-bar"]
PATTERNS = ["pattern-sd-grey-bar", "pattern-sd-with-small-logo-bar"]


def test_versions_of_the_same_video_match_each_other(vectors: Path) -> None:
    for family in (PATTERNS, CHAIRS):
        lists = {name: expected(vectors, name) for name in family}
        for a in family:
            for b in family:
                result = match_video(lists[a], lists[b])
                assert result.matched, (a, b, result)


def test_different_videos_do_not_match(vectors: Path) -> None:
    names = ["pattern-hd-no-bar", "chair-19-sd-bar", "doorknob-hd-no-bar"]
    lists = {name: expected(vectors, name) for name in names}
    for a in names:
        for b in names:
            if a != b:
                result = match_video(lists[a], lists[b])
                assert not result.matched, (a, b, result)
                assert result.target_percent < 20


def test_low_quality_and_repeated_frames_do_not_count(vectors: Path) -> None:
    frames = expected(vectors, "chair-19-sd-bar")
    flat = [VideoFrame(f.frame, 10, f.hash, f.timestamp) for f in frames]
    assert match_video(flat, frames).target_percent == 0.0
    assert match_video(frames, flat).target_percent == 0.0
    doubled = frames + frames
    assert match_video(doubled, frames).query_percent == match_video(frames, frames).query_percent == 100.0


def test_a_file_that_is_not_a_video_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"this is not a video at all" * 100)
    with pytest.raises(NotAVideoError):
        video_hash(path)
    with pytest.raises(EmptyInputError):
        video_hash(b"")


def test_a_truncated_video_is_refused(vectors: Path) -> None:
    data = (vectors / "vpdq" / "videos" / "chair-19-sd-bar.mp4").read_bytes()
    with pytest.raises(CorruptVideoError, match="truncated"):
        video_hash(data[: len(data) // 3])


@pytest.mark.parametrize(
    "text",
    [
        "1,100,abc,0.0",
        "x,100," + "0" * 64 + ",0.0",
        "1,101," + "0" * 64 + ",0.0",
        "1,100," + "0" * 64,
        "1,100," + "g" * 64 + ",0",
    ],
)
def test_malformed_vpdq_text_is_refused(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - InvalidHashError is a ValueError too
        parse_vpdq([text])


def test_vpdq_lines_round_trip(vectors: Path) -> None:
    frames = expected(vectors, "test-padded-dimensions")
    assert parse_vpdq(f.to_line() for f in frames) == frames
