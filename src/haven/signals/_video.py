"""Video signals: a PDQ hash per frame (vPDQ), and video-to-video matching.

A video's signal is the list of its frames' PDQ hashes with frame number, quality
and timestamp — the format of Meta's vPDQ (``frame,quality,hex,seconds`` per line).
Two videos match by the vPDQ rule: keep frames of quality >= 50, drop repeated
hashes, count the target's frames that have a query frame within distance 31; the
videos match when at least 80% of the target's frames do.

Decoding uses PyAV (FFmpeg), imported only when a video is hashed.  Frames are
hashed from the decoder's luma plane: PDQ's bits do not change under the affine
map from studio-range Y to full-range luma (the DCT excludes DC and the median is
scale-free), and the rescaling keeps the quality metric on the reference's scale.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from ._errors import EmptyInputError, FileTooLargeError, HashingError
from ._hashes import PdqHash
from ._image import DEFAULT_LIMITS, Limits, read_file_bytes
from ._pdq import MIN_DIMENSION, bits_of, dct_16, downsample_64, luma_from_rgb, quality_of

QUALITY_FLOOR: Final = 50
MATCH_DISTANCE: Final = 31
MATCH_PERCENT: Final = 80.0
MAX_FRAMES: Final = 200_000


class NotAVideoError(HashingError):
    """The bytes are not a video we can read."""


class CorruptVideoError(HashingError):
    """The video cannot be decoded."""


@dataclass(frozen=True, slots=True)
class VideoFrame:
    frame: int
    quality: int
    hash: PdqHash
    timestamp: float

    def to_line(self) -> str:
        return f"{self.frame},{self.quality},{self.hash},{self.timestamp:.3f}"


def parse_vpdq(lines: Iterable[str]) -> list[VideoFrame]:
    """Read vPDQ text (``frame,quality,hex,seconds`` per line); raises ValueError on a bad line."""
    frames = []
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            continue
        parts = line.split(",")
        if len(parts) != 4:
            raise ValueError(f"line {number}: expected frame,quality,hash,seconds")
        try:
            frame, quality, timestamp = int(parts[0]), int(parts[1]), float(parts[3])
        except ValueError:
            raise ValueError(
                f"line {number}: frame and quality must be whole numbers, seconds a number"
            ) from None
        if frame < 0 or not 0 <= quality <= 100 or not np.isfinite(timestamp) or timestamp < 0:
            raise ValueError(f"line {number}: frame, quality (0-100) or seconds out of range")
        frames.append(VideoFrame(frame, quality, PdqHash.from_hex(parts[2]), timestamp))
    return frames


def _luma_frames(
    data: bytes, seconds_per_hash: float
) -> Iterator[tuple[int, float, tuple[np.ndarray[Any, Any], bool]]]:
    try:
        import av
    except ImportError:  # pragma: no cover - av is a declared dependency
        raise HashingError("video hashing needs PyAV (pip install av)") from None
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except av.error.InvalidDataError:
        raise NotAVideoError("not a video in a format we can read") from None
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise NotAVideoError(f"not a video we can read ({exc})") from None
    with container:
        if not container.streams.video:
            raise NotAVideoError("the file has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        next_time = 0.0
        index = -1
        buffers = _Buffers()
        try:
            for frame in container.decode(stream):
                index += 1
                if index >= MAX_FRAMES:
                    raise CorruptVideoError(f"more than {MAX_FRAMES:,} frames")
                timestamp = float(frame.time) if frame.time is not None else 0.0
                if seconds_per_hash > 0:
                    if timestamp + 1e-6 < next_time:
                        continue
                    next_time += seconds_per_hash
                    while next_time <= timestamp:
                        next_time += seconds_per_hash
                yield index, timestamp, buffers.luma(frame)
        except av.error.FFmpegError as exc:
            raise CorruptVideoError(f"the video cannot be decoded ({exc})") from None
        declared = stream.frames or 0
        # Threaded decoding stops quietly at the end of a cut-off file; the container's frame
        # count tells (a couple of frames of slack for edit lists).
        if declared and index + 1 < declared - 2:
            raise CorruptVideoError(
                f"the video is truncated: {index + 1} of its {declared} frames could be decoded"
            )


_STUDIO_SCALE: Final = 255.0 / 219.0
_EIGHT_BIT_YUV: Final = ("yuv420p", "yuv422p", "yuv444p", "yuv411p", "yuv440p", "nv12", "nv21")


class _Buffers:
    """One float64 frame buffer per frame size, reused: allocating a fresh one per frame
    costs more in page faults than the hashing itself."""

    def __init__(self) -> None:
        self._by_shape: dict[tuple[int, int], np.ndarray[Any, Any]] = {}

    def luma(self, frame: Any) -> tuple[np.ndarray[Any, Any], bool]:
        """The frame's luma as float64, and whether it is studio range (16-235)."""
        name = frame.format.name
        y: np.ndarray[Any, Any]
        if name in _EIGHT_BIT_YUV or name.startswith("yuvj"):
            plane = frame.planes[0]
            y = np.frombuffer(plane, dtype=np.uint8).reshape(-1, plane.line_size)[
                : frame.height, : frame.width
            ]
            studio = not name.startswith("yuvj")
        else:
            y = luma_from_rgb(frame.to_ndarray(format="rgb24"))
            studio = False
        buffer = self._by_shape.get(y.shape)
        if buffer is None:
            buffer = self._by_shape[y.shape] = np.empty(y.shape, dtype=np.float64)
        buffer[...] = y
        return buffer, studio


def video_hash(
    source: str | os.PathLike[str] | bytes,
    *,
    seconds_per_hash: float = 0.0,
    limits: Limits = DEFAULT_LIMITS,
) -> list[VideoFrame]:
    """PDQ of every frame (or one every ``seconds_per_hash``), as vPDQ lists them."""
    if seconds_per_hash < 0 or not np.isfinite(seconds_per_hash):
        raise ValueError("seconds_per_hash must be 0 (every frame) or more")
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        if len(data) > limits.max_bytes:
            raise FileTooLargeError(f"{len(data):,} bytes; the limit is {limits.max_bytes:,} bytes")
    elif isinstance(source, str | os.PathLike):
        data = read_file_bytes(source, limits)
    else:
        raise TypeError(f"cannot hash a {type(source).__name__} as a video: pass a path or bytes")
    if not data:
        raise EmptyInputError("the file is empty")
    frames = []
    for index, timestamp, (luma, studio) in _luma_frames(data, seconds_per_hash):
        rows, cols = luma.shape
        if rows < MIN_DIMENSION or cols < MIN_DIMENSION:
            raise CorruptVideoError(f"frames of {cols} x {rows} pixels are too small to hash")
        if rows * cols > limits.max_pixels:
            raise CorruptVideoError(f"frames of {cols} x {rows} pixels exceed the pixel limit")
        samples = downsample_64(luma, (rows, cols))
        if studio:
            # The blur is an average, so mapping studio-range Y to full range commutes with it:
            # map the 4,096 samples rather than every pixel.
            samples = np.clip((samples - 16.0) * _STUDIO_SCALE, 0.0, 255.0)
        frames.append(VideoFrame(index, quality_of(samples), bits_of(dct_16(samples)), round(timestamp, 3)))
    if not frames:
        raise CorruptVideoError("the video has no frames that could be decoded")
    return frames


@dataclass(frozen=True, slots=True)
class VideoMatch:
    """How much of each video the other covers, in percent of its distinct good frames."""

    query_percent: float
    target_percent: float
    threshold: float = MATCH_PERCENT

    @property
    def matched(self) -> bool:
        return self.target_percent >= self.threshold


def _usable(frames: Sequence[VideoFrame], quality: int) -> list[PdqHash]:
    return list(dict.fromkeys(f.hash for f in frames if f.quality >= quality))


def match_video(
    query: Sequence[VideoFrame],
    target: Sequence[VideoFrame],
    *,
    distance: int = MATCH_DISTANCE,
    quality: int = QUALITY_FLOOR,
    threshold: float = MATCH_PERCENT,
) -> VideoMatch:
    """Compare two frame lists by the vPDQ rule (see the module docstring)."""
    from ._index import HammingIndex

    q = _usable(query, quality)
    t = _usable(target, quality)
    if not q or not t:
        return VideoMatch(0.0, 0.0, threshold)
    q_index = HammingIndex()
    q_index.add_many(range(len(q)), q)
    t_index = HammingIndex()
    t_index.add_many(range(len(t)), t)
    target_hit = sum(1 for hits in q_index.query_many(t, distance) if hits)
    query_hit = sum(1 for hits in t_index.query_many(q, distance) if hits)
    return VideoMatch(100.0 * query_hit / len(q), 100.0 * target_hit / len(t), threshold)
