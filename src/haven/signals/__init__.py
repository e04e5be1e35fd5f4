"""haven.signals: what a piece of content looks like as numbers.

The public surface is what ``__all__`` lists; everything in ``_private`` modules
may change without notice.
"""

from ._errors import (
    CorruptImageError,
    DecompressionBombError,
    EmptyInputError,
    FileTooLargeError,
    HashingError,
    ImageTooLargeError,
    ImageTooSmallError,
    InvalidHashError,
    NotAnImageError,
    TruncatedImageError,
    UnreadableFileError,
    UnsupportedImageError,
)
from ._files import FileError, FileHashes, expand_paths, hash_file, hash_files
from ._hashers import (
    DIHEDRAL_ORDER,
    HASHERS,
    Hasher,
    ImageSource,
    PdqResult,
    pdq_hash,
    pdq_hash_dihedral,
)
from ._hashes import Md5, PdqHash, Sha256, md5, sha256
from ._image import DEFAULT_LIMITS, Limits
from ._index import DigestIndex, DuplicateIdError, HammingIndex, IndexFileError, Match
from ._pdq import WEAK_QUALITY
from ._video import (
    CorruptVideoError,
    NotAVideoError,
    VideoFrame,
    VideoMatch,
    match_video,
    parse_vpdq,
    video_hash,
)

__all__ = [
    "DEFAULT_LIMITS",
    "DIHEDRAL_ORDER",
    "HASHERS",
    "WEAK_QUALITY",
    "CorruptImageError",
    "CorruptVideoError",
    "DecompressionBombError",
    "DigestIndex",
    "DuplicateIdError",
    "EmptyInputError",
    "FileError",
    "FileHashes",
    "FileTooLargeError",
    "HammingIndex",
    "Hasher",
    "HashingError",
    "ImageSource",
    "ImageTooLargeError",
    "ImageTooSmallError",
    "IndexFileError",
    "InvalidHashError",
    "Limits",
    "Match",
    "Md5",
    "NotAVideoError",
    "NotAnImageError",
    "PdqHash",
    "PdqResult",
    "Sha256",
    "TruncatedImageError",
    "UnreadableFileError",
    "UnsupportedImageError",
    "VideoFrame",
    "VideoMatch",
    "expand_paths",
    "hash_file",
    "hash_files",
    "match_video",
    "md5",
    "parse_vpdq",
    "pdq_hash",
    "pdq_hash_dihedral",
    "sha256",
    "video_hash",
]
