"""The bank snapshot: what counts as a match, and how it travels."""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

import pytest
from PIL import Image

from haven.cli import main
from haven.scan import BankEntry, BankFileError, BankReader, BankSnapshot, JsonlBank
from haven.signals import Md5, PdqHash, md5, pdq_hash

from .content import encode, entry, picture, repost


@pytest.fixture(scope="module")
def originals() -> list[Image.Image]:
    return [picture(seed) for seed in range(1, 4)]


@pytest.fixture(scope="module")
def bank(originals: list[Image.Image]) -> BankSnapshot:
    return BankSnapshot([entry(f"c{k}", f"case-{k}", encode(im, "PNG")) for k, im in enumerate(originals)])


def test_a_rotated_mirrored_shrunk_copy_matches_its_original(
    bank: BankSnapshot, originals: list[Image.Image]
) -> None:
    data = repost(originals[1])
    (hit,) = bank.match(pdq_hash(data), md5(data))
    assert hit.entry.content_id == "c1"
    assert hit.entry.case_id == "case-1"
    assert hit.kind == "pdq"
    assert hit.transform != "original"
    assert 0 < hit.distance <= 31


def test_the_same_file_matches_by_md5_at_distance_zero(
    bank: BankSnapshot, originals: list[Image.Image]
) -> None:
    data = encode(originals[2], "PNG")
    (hit,) = bank.match(pdq_hash(data), md5(data))
    assert (hit.entry.content_id, hit.kind, hit.distance) == ("c2", "md5", 0)


def test_an_unrelated_picture_matches_nothing(bank: BankSnapshot) -> None:
    data = encode(picture(99))
    assert bank.match(pdq_hash(data), md5(data)) == []


def test_the_threshold_is_configurable(originals: list[Image.Image]) -> None:
    data = repost(originals[1])
    found = pdq_hash(data)
    strict = BankSnapshot([entry("c1", "case-1", encode(originals[1], "PNG"))], threshold=0)
    assert strict.match(found, md5(data)) == []
    with pytest.raises(ValueError, match="threshold"):
        BankSnapshot([], threshold=65)


def test_weak_hashes_match_by_md5_only() -> None:
    flat = encode(Image.new("RGB", (300, 300), (120, 120, 120)), "PNG")
    result = pdq_hash(flat)
    assert result.weak
    snapshot = BankSnapshot([entry("flat", "case-9", flat)])
    assert snapshot.weak_entries == 1
    other_flat = encode(Image.new("RGB", (300, 300), (121, 120, 120)), "PNG")
    assert snapshot.match(pdq_hash(other_flat), md5(other_flat)) == []
    assert [h.kind for h in snapshot.match(result, md5(flat))] == ["md5"]


def test_a_snapshot_survives_pickling_and_still_matches(
    bank: BankSnapshot, originals: list[Image.Image]
) -> None:
    copy = pickle.loads(pickle.dumps(bank))
    data = repost(originals[0])
    assert copy.match(pdq_hash(data), md5(data)) == bank.match(pdq_hash(data), md5(data))
    assert (copy.threshold, len(copy)) == (bank.threshold, 3)


def test_an_entry_needs_a_hash() -> None:
    with pytest.raises(ValueError, match="neither"):
        BankEntry("x", "y")
    assert BankEntry("x", "y", md5=Md5.of(b"abc")).pdq is None
    assert BankEntry("x", "y", pdq=PdqHash(1)).md5 is None


def test_the_jsonl_bank_reads_haven_hash_output(
    tmp_path: Path, originals: list[Image.Image], capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.png").write_bytes(encode(originals[0], "PNG"))
    (tmp_path / "b.txt.jpg").write_bytes(b"not a picture")
    main(["hash", str(tmp_path)])
    bank_file = tmp_path / "bank.jsonl"
    bank_file.write_text(capsys.readouterr().out)
    reader = JsonlBank(bank_file)
    assert isinstance(reader, BankReader)
    entries = list(reader.read_bank())
    assert [Path(e.content_id).name for e in entries] == ["a.png"]
    snapshot = BankSnapshot.from_reader(reader)
    data = repost(originals[0])
    assert [Path(h.entry.content_id).name for h in snapshot.match(pdq_hash(data), md5(data))] == ["a.png"]


def test_the_jsonl_bank_takes_ids_and_cases(tmp_path: Path) -> None:
    path = tmp_path / "bank.jsonl"
    h = "f" * 64
    path.write_text(
        json.dumps({"id": 7, "case": "KR-2026-0001", "pdq": h, "quality": 90})
        + "\n\n"
        + json.dumps({"content_id": "x", "md5": "0" * 32})
        + "\n"
    )
    entries = list(JsonlBank(path).read_bank())
    assert entries == [
        BankEntry("7", "KR-2026-0001", PdqHash.from_hex(h), None, 90),
        BankEntry("x", "", None, Md5.from_hex("0" * 32), 100),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json\n", "line 1: not JSON"),
        ("[1]\n", "not a JSON object"),
        ('{"path": "a", "pdq": "zz"}\n', "line 1"),
        ('{"pdq": "' + "0" * 64 + '"}\n', "no id or path"),
        ('{"path": "a"}\n', "neither a pdq nor an md5"),
    ],
)
def test_a_bad_bank_file_names_the_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bank.jsonl"
    path.write_text(text)
    with pytest.raises(BankFileError, match=message):
        list(JsonlBank(path).read_bank())


def test_a_missing_bank_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BankFileError, match="cannot read the bank file"):
        list(JsonlBank(tmp_path / "nope.jsonl").read_bank())


def test_encoding_helpers_are_deterministic() -> None:
    assert encode(picture(5)) == encode(picture(5))
    assert io.BytesIO(repost(picture(5))).getvalue()[:3] == b"\xff\xd8\xff"
