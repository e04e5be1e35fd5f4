"""The ``haven`` command: parses arguments and hands over to the library."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from haven import __version__


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 (one per CPU core) or more")
    return value or (os.cpu_count() or 1)


def _cmd_hash(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from haven.signals import FileError, expand_paths, hash_files

    paths = list(expand_paths(args.paths))
    results = hash_files(paths, jobs=args.jobs, full_resolution=args.full_resolution)
    failed = 0
    out = sys.stdout
    with tqdm(
        total=len(paths),
        unit="file",
        file=sys.stderr,
        disable=not sys.stderr.isatty(),
        dynamic_ncols=True,
    ) as bar:
        for result in results:
            if isinstance(result, FileError):
                failed += 1
            out.write(json.dumps(result.as_record(dihedral=args.dihedral), ensure_ascii=False) + "\n")
            bar.update(1)
    out.flush()
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="haven",
        description="Haven: support software for centres that help survivors of image-based abuse.",
    )
    parser.add_argument("--version", action="version", version=f"haven {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    h = commands.add_parser(
        "hash",
        help="hash pictures (PDQ, MD5, SHA-256) and print JSON Lines",
        description=(
            "Hash picture files and folders (recursively). One JSON object per file on standard "
            'output: {"path", "pdq", "quality", "md5", "sha256"}, or {"path", "error"}. '
            "Exit status 0 when every file hashed, 1 when any failed."
        ),
    )
    h.add_argument("paths", nargs="+", metavar="PATH", help="files or folders")
    h.add_argument("--dihedral", action="store_true", help="also print the 8 rotated/flipped PDQ hashes")
    h.add_argument(
        "--jobs", type=_jobs, default=1, metavar="N", help="processes to use (0 = one per CPU core)"
    )
    h.add_argument(
        "--full-resolution",
        action="store_true",
        help="decode every pixel instead of the faster reduced decode (slower; for conformance checks)",
    )
    h.set_defaults(handler=_cmd_hash)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Output piped into e.g. `head`: stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
