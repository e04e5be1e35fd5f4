"""Decoding pictures into a luma plane, safely and fast.

Two promises live here: bad input (empty, not an image, corrupt, truncated,
enormous, a decompression bomb, too small) raises a specific
:class:`~haven.signals.HashingError` before any large allocation, and the file
pipeline decodes no more pixels than PDQ needs.

PDQ looks at a picture through a blur about 1/64 of its width wide, so a
full-resolution decode of a phone photo spends most of its time on detail the
hash never sees.  For the file pipeline we let the decoder reduce the picture by
an integer block factor while it decodes (JPEG DCT scaling via ``draft``; box
reduction for other formats), keeping at least :data:`REDUCED_MIN_SIDE` pixels on
the short side, and tell the PDQ operator the block factor so that it still
applies the full-resolution filter (see ``_pdq.py``).  The measured effect on the
hash is in the README.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

from ._errors import (
    CorruptImageError,
    DecompressionBombError,
    EmptyInputError,
    FileTooLargeError,
    ImageTooLargeError,
    ImageTooSmallError,
    NotAnImageError,
    TruncatedImageError,
    UnreadableFileError,
    UnsupportedImageError,
)
from ._pdq import EXIF_ORIENTATIONS, MIN_DIMENSION, UPRIGHT, Float64Array, Orientation, luma_from_rgb

REDUCED_MIN_SIDE: Final = 256
"""The file pipeline reduces a picture while decoding, but never below this many pixels
on its short side (measured: see README, "Fast file pipeline")."""

_EXIF_ORIENTATION_TAG: Final = 0x0112

# Exceptions Pillow's decoders raise for malformed data, beyond OSError.
_DECODE_ERRORS: Final = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, IndexError)


@dataclass(frozen=True, slots=True)
class Limits:
    """What the hashers refuse to decode."""

    max_bytes: int = 256 * 1024 * 1024
    """Files larger than this are refused before they are read."""
    max_pixels: int = 80_000_000
    """Pictures with more pixels than this are refused before they are decoded."""
    bomb_ratio: int = 400
    """An over-size picture with more than this many pixels per file byte is called a bomb."""


DEFAULT_LIMITS: Final = Limits()


@dataclass(frozen=True, slots=True)
class LumaPlane:
    """A decoded luma plane, as stored in the file, with how to read it upright."""

    plane: Float64Array
    full_size: tuple[int, int]
    """(rows, cols) of the stored picture before any reduction."""
    block: int = 1
    orientation: Orientation = UPRIGHT

    @property
    def upright_size(self) -> tuple[int, int]:
        rows, cols = self.full_size
        return (cols, rows) if self.orientation.transpose else (rows, cols)


def read_file_bytes(path: str | os.PathLike[str], limits: Limits = DEFAULT_LIMITS) -> bytes:
    """Read a whole file, refusing it first if it is larger than ``limits.max_bytes``."""
    p = Path(path)
    try:
        # O_NONBLOCK: opening a FIFO (a named pipe called photo.jpg) would otherwise wait for a
        # writer for ever; it is refused below, like every file that is not a regular one.
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fh.fileno())
            if stat.S_ISDIR(info.st_mode):
                raise IsADirectoryError
            if not stat.S_ISREG(info.st_mode):
                raise UnreadableFileError("is not a regular file (a pipe, socket or device)")
            size = info.st_size
            if size > limits.max_bytes:
                raise FileTooLargeError(f"file is {size:,} bytes; the limit is {limits.max_bytes:,} bytes")
            # Read one byte past the limit so a file that grows (or lies about its size) is caught.
            data = fh.read(limits.max_bytes + 1)
    except IsADirectoryError:
        raise UnreadableFileError("is a folder, not a file") from None
    except FileNotFoundError:
        raise UnreadableFileError("no such file") from None
    except PermissionError:
        raise UnreadableFileError("permission denied") from None
    except OSError as exc:
        raise UnreadableFileError(f"cannot be read: {exc.strerror or exc}") from None
    if len(data) > limits.max_bytes:
        raise FileTooLargeError(f"file is larger than the limit of {limits.max_bytes:,} bytes")
    return data


def open_image(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Image.Image:
    """Identify ``data`` as a picture and check its declared size; decode nothing yet."""
    if len(data) == 0:
        raise EmptyInputError("the file is empty")
    if len(data) > limits.max_bytes:
        raise FileTooLargeError(f"{len(data):,} bytes; the limit is {limits.max_bytes:,} bytes")
    try:
        with warnings.catch_warnings():
            # We check the pixel count ourselves, with our own limit and message.
            warnings.simplefilter("ignore")
            im = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise DecompressionBombError(
            "the picture declares far more pixels than its file size can hold (a decompression bomb)"
        ) from None
    except UnidentifiedImageError:
        raise NotAnImageError("not a picture in a format we can read") from None
    except _DECODE_ERRORS as exc:
        raise _decode_error(exc, "the picture's header is damaged") from None
    width, height = im.size
    pixels = width * height
    if pixels > limits.max_pixels:
        if pixels > limits.bomb_ratio * len(data):
            raise DecompressionBombError(
                f"a {len(data):,}-byte file declares {width} x {height} pixels (a decompression bomb)"
            )
        raise ImageTooLargeError(
            f"{width} x {height} = {pixels:,} pixels; the limit is {limits.max_pixels:,}"
        )
    if width < MIN_DIMENSION or height < MIN_DIMENSION:
        raise ImageTooSmallError(
            f"{width} x {height} pixels; a perceptual hash needs at least {MIN_DIMENSION} x {MIN_DIMENSION}"
        )
    if im.format == "PNG":
        _verify_png(data)
    return im


def _verify_png(data: bytes) -> None:
    # Pillow's PNG decoder does not check chunk checksums, so damaged pixel data would
    # decode into a garbage picture; verify() does check them.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            Image.open(io.BytesIO(data)).verify()
    except _DECODE_ERRORS as exc:
        raise _decode_error(exc, "the picture's data is damaged") from None


def _decode_error(exc: BaseException, what: str) -> CorruptImageError:
    message = str(exc)
    if isinstance(exc, EOFError) or "truncated" in message.lower() or "broken data stream" in message:
        return TruncatedImageError("the picture is truncated: the file ends too early")
    return CorruptImageError(f"{what} ({_describe(exc)})")


def exif_orientation(im: Image.Image) -> Orientation:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = im.getexif().get(_EXIF_ORIENTATION_TAG, 1)
    except _DECODE_ERRORS:
        return UPRIGHT  # unreadable EXIF: hash the picture as stored
    return EXIF_ORIENTATIONS.get(value, UPRIGHT) if isinstance(value, int) else UPRIGHT


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return text[:200] if text else type(exc).__name__


def _load(im: Image.Image) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im.load()
    except _DECODE_ERRORS as exc:
        raise _decode_error(exc, "the picture cannot be decoded") from None
    except MemoryError:
        raise ImageTooLargeError("not enough memory to decode the picture") from None


def _choose_block(width: int, height: int) -> int:
    short = min(width, height)
    for block in (8, 4, 2):
        if short // block >= REDUCED_MIN_SIDE:
            return block
    return 1


def decode_luma(data: bytes, *, reduce: bool = True, limits: Limits = DEFAULT_LIMITS) -> LumaPlane:
    """Decode a file's bytes into a luma plane (the first frame of an animation)."""
    im = open_image(data, limits)
    orientation = exif_orientation(im)
    width, height = im.size
    block = _choose_block(width, height) if reduce else 1
    if block > 1 and im.format == "JPEG":
        # DCT scaling: libjpeg decodes straight to 1/block size; asking for "L" from a
        # YCbCr JPEG returns the Y channel (which is 601 luma) and skips the chroma.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = im.draft("L" if im.mode in ("RGB", "L") else im.mode, (width // block, height // block))
        block = 1 if result is None else round(width / result[1][2])
        _load(im)
        plane = plane_from_image(im)
        if block > 1 and plane.shape != (-(-height // block), -(-width // block)):
            raise CorruptImageError("the decoder returned an unexpected picture size")
        return LumaPlane(plane, (height, width), block, orientation)
    _load(im)
    if block > 1 and im.mode not in ("RGB", "L"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            converted = _to_8bit(im)
        if converted is None:
            block = 1
        else:
            im = converted
    if block > 1:
        im = im.reduce(block)
    return LumaPlane(plane_from_image(im), (height, width), block, orientation)


def _to_8bit(im: Image.Image) -> Image.Image | None:
    """``im`` as an 8-bit "L" or "RGB" picture, or None for high-bit-depth modes."""
    mode = im.mode
    if mode in ("RGB", "L"):
        return im
    if mode in ("1",):
        return im.convert("L")
    if mode == "LA":
        return im.getchannel("L")
    if mode in ("P", "PA"):
        # Alpha is dropped, as the reference tools do: the colours under it are hashed.
        return im.convert("RGBA").convert("RGB")
    if mode in ("RGBA", "RGBX", "RGBa", "CMYK", "YCbCr", "HSV"):
        return im.convert("RGB")
    if mode == "LAB":
        from PIL import ImageCms

        transform = ImageCms.buildTransform(
            ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB"), "LAB", "RGB"
        )
        converted = ImageCms.applyTransform(im, transform)
        if converted is None:  # pragma: no cover - only when transforming in place
            raise UnsupportedImageError("cannot convert a LAB picture to RGB")
        return converted
    return None


def plane_from_image(im: Image.Image) -> Float64Array:
    """The luma of a decoded picture as float64 holding float32-exact values.

    8-bit colour uses the reference luma weights; 16-bit and 32-bit samples are
    scaled to 0..255 (a 16-bit PNG spans 0..65535) rather than clipped.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        eight = _to_8bit(im)
    if eight is not None:
        arr = np.asarray(eight)
        if eight.mode == "L":
            return arr.astype(np.float64)
        return luma_from_rgb(arr).astype(np.float64)
    return _wide_plane(im)


def _wide_plane(im: Image.Image) -> Float64Array:
    mode = im.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        arr = np.asarray(im).astype(np.float64)
        if not np.isfinite(arr).all():
            raise CorruptImageError("the picture has samples that are not numbers")
        top = float(arr.max()) if arr.size else 0.0
        if mode == "F" and top <= 1.0:
            arr = arr * 255.0  # floats in 0..1
        elif top > 255.0 or mode.startswith("I;16"):
            arr = arr / 257.0  # 16-bit range 0..65535 onto 0..255
        return np.clip(arr, 0.0, 255.0).astype(np.float32).astype(np.float64)
    raise UnsupportedImageError(f"pictures in colour mode {mode!r} are not supported")


def plane_from_array(array: npt.NDArray[np.generic]) -> Float64Array:
    """The luma of an H x W grey or H x W x 3 RGB uint8 array."""
    if not isinstance(array, np.ndarray):
        raise UnsupportedImageError("expected a numpy array")
    if array.dtype != np.uint8:
        raise UnsupportedImageError(f"pixel arrays must be uint8, not {array.dtype}")
    if array.ndim == 3 and array.shape[2] == 3:
        plane = luma_from_rgb(array.view(np.uint8)).astype(np.float64)
    elif array.ndim == 2:
        # 0.299 g + 0.587 g + 0.114 g rounds to g in float32 for every uint8 g, so grey
        # hashes exactly as the reference bindings hash three equal channels.
        plane = array.astype(np.float64)
    else:
        raise UnsupportedImageError(
            f"pixel arrays must be H x W (grey) or H x W x 3 (RGB), not shape {array.shape}"
        )
    rows, cols = plane.shape
    if rows < MIN_DIMENSION or cols < MIN_DIMENSION:
        raise ImageTooSmallError(
            f"{cols} x {rows} pixels; a perceptual hash needs at least {MIN_DIMENSION} x {MIN_DIMENSION}"
        )
    return plane
