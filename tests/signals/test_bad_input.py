"""Bad input gets a specific HashingError with a clear message, and a batch goes on."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from haven.signals import (
    CorruptImageError,
    DecompressionBombError,
    EmptyInputError,
    FileError,
    FileHashes,
    FileTooLargeError,
    HashingError,
    ImageTooLargeError,
    ImageTooSmallError,
    Limits,
    NotAnImageError,
    TruncatedImageError,
    UnreadableFileError,
    UnsupportedImageError,
    hash_files,
    pdq_hash,
)

from .photolike import photo_like


@pytest.fixture
def photo() -> np.ndarray:
    return photo_like(np.random.default_rng(3), min_side=300, max_side=400)


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that declares ``width`` x ``height`` pixels: the shape of a decompression bomb."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    )


def test_empty_input_is_refused() -> None:
    with pytest.raises(EmptyInputError, match="empty"):
        pdq_hash(b"")


def test_a_file_that_is_not_a_picture_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a picture")
    with pytest.raises(NotAnImageError, match="not a picture"):
        pdq_hash(path)


def test_a_truncated_jpeg_is_refused(photo: np.ndarray, encode: Callable[..., bytes]) -> None:
    data = encode(photo, "JPEG", quality=90)
    with pytest.raises(TruncatedImageError, match="truncated"):
        pdq_hash(data[: len(data) // 2])
    with pytest.raises(TruncatedImageError):
        pdq_hash(data[: len(data) // 2], full_resolution=True)


def test_a_truncated_png_is_refused(photo: np.ndarray, encode: Callable[..., bytes]) -> None:
    data = encode(photo, "PNG")
    with pytest.raises(TruncatedImageError):
        pdq_hash(data[: len(data) // 2])


def test_a_png_with_damaged_pixel_data_is_refused(photo: np.ndarray, encode: Callable[..., bytes]) -> None:
    data = bytearray(encode(photo, "PNG"))
    start = data.index(b"IDAT") + 4
    data[start + 100 : start + 400] = bytes(300)
    with pytest.raises(CorruptImageError):
        pdq_hash(bytes(data))


def test_a_damaged_header_is_refused(photo: np.ndarray, encode: Callable[..., bytes]) -> None:
    data = bytearray(encode(photo, "PNG"))
    data[16:24] = b"\xff" * 8  # width and height in IHDR, CRC now wrong
    with pytest.raises(HashingError):
        pdq_hash(bytes(data))


def test_a_file_over_the_byte_limit_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    path.write_bytes(b"\0" * 5000)
    limits = Limits(max_bytes=4096)
    with pytest.raises(FileTooLargeError, match="4,096"):
        pdq_hash(path, limits=limits)
    with pytest.raises(FileTooLargeError):
        pdq_hash(path.read_bytes(), limits=limits)


def test_a_picture_over_the_pixel_limit_is_refused(photo: np.ndarray, encode: Callable[..., bytes]) -> None:
    data = encode(photo, "PNG")
    with pytest.raises(ImageTooLargeError, match="pixels") as info:
        pdq_hash(data, limits=Limits(max_pixels=50_000))
    assert not isinstance(info.value, DecompressionBombError)


@pytest.mark.parametrize("side", [12_000, 100_000])
def test_a_decompression_bomb_is_refused_without_decoding(side: int) -> None:
    # 12,000^2 passes Pillow's own check and trips ours; 100,000^2 trips Pillow's.
    with pytest.raises(DecompressionBombError, match="decompression bomb"):
        pdq_hash(png_header_only(side, side))


@pytest.mark.parametrize("size", [(4, 100), (100, 4), (1, 1)])
def test_pictures_under_five_pixels_are_refused(size: tuple[int, int], encode: Callable[..., bytes]) -> None:
    data = encode(Image.new("RGB", size, "white"), "PNG")
    with pytest.raises(ImageTooSmallError, match="at least 5 x 5"):
        pdq_hash(data)
    with pytest.raises(ImageTooSmallError):
        pdq_hash(np.zeros((size[1], size[0], 3), dtype=np.uint8))
    with pytest.raises(ImageTooSmallError):
        pdq_hash(Image.new("RGB", size))


def test_five_pixels_is_enough(encode: Callable[..., bytes]) -> None:
    assert pdq_hash(encode(Image.new("RGB", (5, 5), "white"), "PNG")).quality == 0


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_animations_hash_their_first_frame(photo: np.ndarray, fmt: str) -> None:
    first = Image.fromarray(photo)
    second = Image.fromarray(photo[::-1, ::-1].copy())
    buf = io.BytesIO()
    params = {"lossless": True} if fmt == "WEBP" else {}
    first.save(buf, format=fmt, save_all=True, append_images=[second], duration=100, loop=0, **params)
    with Image.open(io.BytesIO(buf.getvalue())) as im:
        assert getattr(im, "n_frames", 1) == 2
        frame0 = np.asarray(im.convert("RGB"))
    assert pdq_hash(buf.getvalue()).hash - pdq_hash(frame0).hash <= 2
    assert pdq_hash(buf.getvalue()).hash - pdq_hash(np.asarray(second)).hash > 64


def test_sixteen_bit_pictures_are_scaled_not_clipped(encode: Callable[..., bytes]) -> None:
    rng = np.random.default_rng(5)
    eight = photo_like(rng, min_side=200, max_side=300)[:, :, 0]
    sixteen = eight.astype(np.uint16) * 257
    data = encode(Image.fromarray(sixteen), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    assert pdq_hash(data).hash - pdq_hash(eight).hash <= 2


@pytest.mark.parametrize(
    "array",
    [
        np.zeros((10, 10, 3), dtype=np.float32),
        np.zeros((10, 10, 4), dtype=np.uint8),
        np.zeros((10, 10, 3, 1), dtype=np.uint8),
        np.zeros((10,), dtype=np.uint8),
    ],
)
def test_arrays_of_the_wrong_kind_are_refused(array: np.ndarray) -> None:
    with pytest.raises(UnsupportedImageError, match=r"uint8|H x W"):
        pdq_hash(array)


def test_other_objects_are_a_type_error() -> None:
    with pytest.raises(TypeError, match="cannot hash"):
        pdq_hash(12345)  # type: ignore[arg-type]


def test_missing_files_and_folders_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFileError, match="no such file"):
        pdq_hash(tmp_path / "missing.jpg")
    with pytest.raises(UnreadableFileError, match="folder"):
        pdq_hash(tmp_path)


def test_one_bad_file_never_stops_a_batch(
    tmp_path: Path, photo: np.ndarray, encode: Callable[..., bytes]
) -> None:
    good = encode(photo, "JPEG", quality=90)
    (tmp_path / "a.jpg").write_bytes(good)
    (tmp_path / "b.jpg").write_bytes(good[:500])
    (tmp_path / "c.jpg").write_bytes(b"")
    (tmp_path / "d.png").write_bytes(encode(photo, "PNG"))
    paths = [str(tmp_path / n) for n in ("a.jpg", "b.jpg", "c.jpg", "missing.jpg", "d.png")]
    for jobs in (1, 2):
        results = list(hash_files(paths, jobs=jobs))
        assert [r.path for r in results] == paths
        kinds = [type(r) for r in results]
        assert kinds == [FileHashes, FileError, FileError, FileError, FileHashes]
        errors = [r for r in results if isinstance(r, FileError)]
        assert isinstance(errors[0].error, TruncatedImageError)
        assert isinstance(errors[1].error, EmptyInputError)
        assert isinstance(errors[2].error, UnreadableFileError)
