"""`haven hash`: JSON Lines out, one object per file, exit status by outcome."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from haven.cli import main
from haven.signals import pdq_hash

from .signals.photolike import photo_like


@pytest.fixture
def pictures(tmp_path: Path) -> Path:
    rng = np.random.default_rng(9)
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    Image.fromarray(photo_like(rng, min_side=200)).save(tmp_path / "one.jpg", quality=90)
    Image.fromarray(photo_like(rng, min_side=200)).save(tmp_path / "sub" / "two.png")
    Image.fromarray(photo_like(rng, min_side=200)).save(tmp_path / "sub" / "deeper" / "three.webp")
    (tmp_path / "sub" / "readme.txt").write_text("not a picture, and not picked up by a folder walk")
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, object]]]:
    status = main(["hash", *args])
    out = capsys.readouterr().out
    return status, [json.loads(line) for line in out.splitlines()]


def test_it_hashes_files_and_folders_recursively(pictures: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, records = run(capsys, str(pictures))
    assert status == 0
    assert [Path(str(r["path"])).name for r in records] == ["one.jpg", "two.png", "three.webp"]
    for record in records:
        assert set(record) == {"path", "pdq", "quality", "md5", "sha256"}
        assert record["pdq"] == str(pdq_hash(Path(str(record["path"]))).hash)
        assert len(str(record["md5"])) == 32
        assert len(str(record["sha256"])) == 64


def test_dihedral_adds_eight_hashes(pictures: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, records = run(capsys, "--dihedral", str(pictures / "one.jpg"))
    assert status == 0
    (record,) = records
    variants = record["pdq_dihedral"]
    assert isinstance(variants, list)
    assert len(variants) == 8
    assert variants[0] == record["pdq"]


def test_a_failed_file_is_reported_and_sets_exit_status_one(
    pictures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = pictures / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff garbage")
    status, records = run(capsys, str(pictures / "one.jpg"), str(bad), str(pictures / "nope.png"))
    assert status == 1
    assert "pdq" in records[0]
    assert set(records[1]) == {"path", "error"}
    assert records[2]["error"] == "no such file"


def test_jobs_gives_the_same_output_in_the_same_order(
    pictures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, serial = run(capsys, str(pictures))
    _, parallel = run(capsys, "--jobs", "2", str(pictures))
    assert serial == parallel


def test_bad_arguments_exit_with_usage_status(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["hash", "--jobs", "-3", "x"])
    assert info.value.code == 2
    assert "--jobs" in capsys.readouterr().err


def test_the_console_script_runs(pictures: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "haven", "hash", str(pictures / "one.jpg")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["quality"] == 100
    assert proc.stderr == ""  # no progress bar when stderr is not a terminal


def _on_a_terminal(argv: list[str]) -> tuple[subprocess.CompletedProcess[bytes], bytes]:
    """Run ``python -m haven ARGV`` with stderr on a pseudo-terminal: the process and what it drew."""
    import fcntl
    import os
    import pty
    import struct
    import termios

    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "haven", *argv],
            stdout=subprocess.PIPE,
            stderr=terminal,
            check=False,
            timeout=120,
        )
        os.close(terminal)
        drawn = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal side is closed and drained
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(controller)
    return proc, drawn


def test_a_progress_bar_is_drawn_when_stderr_is_a_terminal(pictures: Path) -> None:
    proc, drawn = _on_a_terminal(["hash", str(pictures)])
    assert proc.returncode == 0
    assert len(proc.stdout.splitlines()) == 3  # the bar never mixes into the JSON Lines
    assert b"3/3" in drawn


def match(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, object]], str]:
    status = main(["match", *args])
    captured = capsys.readouterr()
    return status, [json.loads(line) for line in captured.out.splitlines()], captured.err


def _robust_bank(capsys: pytest.CaptureFixture[str], pictures: Path, tmp_path: Path) -> Path:
    """``haven hash --robust`` of the pictures, written where ``haven match --bank`` reads it."""
    _, records = run(capsys, "--robust", str(pictures))
    bank = tmp_path / "bank.jsonl"
    bank.write_text("".join(json.dumps(r) + "\n" for r in records))
    return bank


def test_robust_adds_the_extra_crop_signals(pictures: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, (record,) = run(capsys, "--robust", str(pictures / "one.jpg"))
    assert status == 0
    extra = record["extra"]
    assert isinstance(extra, list)
    assert extra
    assert {"kind", "pdq"} == set(extra[0])
    assert all(len(e["pdq"]) == 64 for e in extra)
    assert "pdq_dihedral" not in record


def test_match_finds_a_cropped_and_padded_copy_in_a_robust_bank(
    pictures: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bank = _robust_bank(capsys, pictures, tmp_path)
    original = Image.open(pictures / "one.jpg")
    w, h = original.size
    original.crop((0, 0, int(w * 0.6), int(h * 0.6))).save(tmp_path / "corner.jpg", quality=90)
    padded = Image.new("RGB", (max(w, h) + 80, max(w, h) + 80), (0, 0, 0))
    padded.paste(original, (40, 40))
    padded.save(tmp_path / "padded.png")
    status, results, _ = match(
        capsys, "--bank", str(bank), str(tmp_path / "corner.jpg"), str(tmp_path / "padded.png")
    )
    assert status == 0
    for result in results:
        matches = result["matches"]
        assert isinstance(matches, list)
        assert [m["path"] for m in matches] == [str(pictures / "one.jpg")]
        assert 0 <= matches[0]["distance"] <= 31
    assert results[0]["matches"][0]["kind"] == "corner60_tl"  # type: ignore[index]


def test_match_against_a_plain_bank_reports_no_match_for_an_unrelated_picture(
    pictures: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, records = run(capsys, str(pictures / "one.jpg"))
    bank = tmp_path / "bank.jsonl"
    bank.write_text(json.dumps(records[0]) + "\n")
    status, results, _ = match(capsys, "--bank", str(bank), str(pictures / "sub" / "two.png"))
    assert status == 0
    assert results == [{"path": str(pictures / "sub" / "two.png"), "matches": []}]


def test_match_reports_a_bad_query_file_and_exits_one(
    pictures: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bank = tmp_path / "bank.jsonl"
    bank.write_text(json.dumps({"path": "x.jpg", "pdq": "0f" * 32, "quality": 100}) + "\n")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff garbage")
    status, results, _ = match(capsys, "--bank", str(bank), str(broken), str(pictures / "one.jpg"))
    assert status == 1
    assert set(results[0]) == {"path", "error"}
    assert results[1]["matches"] == []


@pytest.mark.parametrize(
    ("second_line", "message"),
    [
        ("{oops", "line 2: not JSON"),
        (json.dumps({"path": "b.jpg", "pdq": "abc"}), "line 2: "),
        (
            json.dumps({"path": "b.jpg", "pdq": "0" * 64, "extra": [{"kind": "centre80", "pdq": "zz" * 32}]}),
            "line 2: ",
        ),
    ],
)
def test_match_refuses_a_malformed_bank_naming_the_line(
    pictures: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], second_line: str, message: str
) -> None:
    bank = tmp_path / "bank.jsonl"
    bank.write_text(json.dumps({"path": "a.jpg", "pdq": "0" * 64}) + "\n" + second_line + "\n")
    status, results, err = match(capsys, "--bank", str(bank), str(pictures / "one.jpg"))
    assert status == 2
    assert results == []
    assert message in err
    assert str(bank) in err


def test_match_with_a_missing_bank_exits_two(
    pictures: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = match(capsys, "--bank", str(tmp_path / "nope.jsonl"), str(pictures / "one.jpg"))
    assert status == 2
    assert "cannot read the bank" in err


def test_match_jobs_gives_the_same_output_in_the_same_order(
    pictures: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bank = _robust_bank(capsys, pictures, tmp_path)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff garbage")
    Image.open(pictures / "one.jpg").rotate(7, expand=True).save(tmp_path / "turned.jpg", quality=90)
    queries = [str(pictures), str(broken), str(tmp_path / "turned.jpg")]
    serial = match(capsys, "--bank", str(bank), *queries)
    parallel = match(capsys, "--bank", str(bank), "--jobs", "2", *queries)
    assert serial == parallel
    status, results, _ = parallel
    assert status == 1  # the broken file, reported in its place
    assert set(results[-2]) == {"path", "error"}
    assert results[-2]["path"] == str(broken)
    assert [m["path"] for m in results[-1]["matches"]] == [str(pictures / "one.jpg")]  # type: ignore[index]


def test_match_draws_a_progress_bar_when_stderr_is_a_terminal(
    pictures: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bank = _robust_bank(capsys, pictures, tmp_path)
    queries = [str(pictures / "one.jpg"), str(pictures / "sub" / "two.png")]
    proc, drawn = _on_a_terminal(["match", "--bank", str(bank), *queries])
    assert proc.returncode == 0
    assert len(proc.stdout.splitlines()) == 2  # the bar never mixes into the JSON Lines
    assert b"2/2" in drawn


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX feature")
def test_a_named_pipe_called_jpg_is_refused_at_once_not_waited_on(
    pictures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, bank_records = run(capsys, "--robust", str(pictures / "one.jpg"))
    bank = pictures.parent / f"{pictures.name}-bank.jsonl"
    bank.write_text("".join(json.dumps(r) + "\n" for r in bank_records))
    os.mkfifo(pictures / "trap.jpg")  # no one ever writes to it: opening it for reading would wait for ever
    start = time.monotonic()
    status, records = run(capsys, str(pictures))
    assert status == 1
    errors = {Path(str(r["path"])).name: r["error"] for r in records if "error" in r}
    assert errors == {"trap.jpg": "is not a regular file (a pipe, socket or device)"}
    assert sum("pdq" in r for r in records) == 3
    assert main(["match", "--bank", str(bank), str(pictures)]) == 1
    matched = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [Path(str(r["path"])).name for r in matched if "error" in r] == ["trap.jpg"]
    assert time.monotonic() - start < 60
