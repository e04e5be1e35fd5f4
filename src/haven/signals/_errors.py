"""Errors raised while turning content into signals.

Every failure to hash a file is a :class:`HashingError` subclass with a message that a
counsellor can read, so a batch can report it next to the file and carry on.
"""

from __future__ import annotations


class HashingError(ValueError):
    """The content could not be hashed; the message says why."""


class InvalidHashError(ValueError):
    """A textual hash or digest is malformed (wrong length, not hexadecimal)."""


class EmptyInputError(HashingError):
    """The file or byte string is empty."""


class NotAnImageError(HashingError):
    """The bytes are not in any image format we can read."""


class CorruptImageError(HashingError):
    """The file claims to be an image but cannot be decoded."""


class TruncatedImageError(CorruptImageError):
    """The image data ends before the picture is complete."""


class FileTooLargeError(HashingError):
    """The file has more bytes than the configured limit."""


class ImageTooLargeError(HashingError):
    """The image has more pixels than the configured limit."""


class DecompressionBombError(ImageTooLargeError):
    """A small file declares an enormous picture: a decompression bomb."""


class ImageTooSmallError(HashingError):
    """The image is too small for a perceptual hash (PDQ needs at least 5 x 5 pixels)."""


class UnsupportedImageError(HashingError):
    """The image decodes but its pixel format cannot be turned into colour values."""


class UnreadableFileError(HashingError):
    """The file cannot be read (missing, a folder, no permission)."""
