"""A cropped or meme-framed re-upload of a bank photo is a candidate when robust matching is on."""

from __future__ import annotations

import json
import pickle
from dataclasses import replace
from pathlib import Path

import pytest

from haven.scan import (
    BankEntry,
    BankFileError,
    BankSnapshot,
    Crawl,
    FetchPolicy,
    JsonlBank,
    ScanOptions,
    scan,
)
from haven.signals import CROPS, DIHEDRAL_ORDER, PdqHash, Signal, md5, pdq_hash, query_signals

from .content import cropped, encode, meme, picture, robust_entry, robust_record
from .site import TestSite


class RobustGallery:
    """A page with a cropped and a meme-framed copy of one bank photo, and an unrelated photo."""

    def __init__(self, site: TestSite, prefix: str) -> None:
        self.original = picture(31)
        self.other_original = picture(32)
        self.bank = BankSnapshot(
            [
                robust_entry("photo", "case-1", encode(self.original, "PNG")),
                robust_entry("other", "case-2", encode(self.other_original, "PNG")),
            ]
        )
        self.crop = site.put(f"{prefix}/crop.jpg", cropped(self.original), "image/jpeg")
        self.meme = site.put(f"{prefix}/meme.jpg", meme(self.original), "image/jpeg")
        self.unrelated = site.put(f"{prefix}/unrelated.jpg", encode(picture(33)), "image/jpeg")
        self.index = site.put(
            f"{prefix}/index.html",
            '<html><body><img src="crop.jpg"><img src="meme.jpg"><img src="unrelated.jpg"></body></html>',
        )


@pytest.fixture(scope="module")
def gallery(site: TestSite) -> RobustGallery:
    return RobustGallery(site, "/robust-gallery")


def found(report: object) -> dict[str, tuple[str, str, str]]:
    return {
        c.media_url: (c.content_id, c.kind, c.transform)
        for c in report.candidates  # type: ignore[attr-defined]
    }


def test_crops_and_meme_frames_are_found_with_the_kind_that_matched(
    gallery: RobustGallery, policy: FetchPolicy
) -> None:
    report = scan([Crawl(gallery.index, depth=0)], gallery.bank, options=ScanOptions(policy=policy))
    hits = found(report)
    assert set(hits) == {gallery.crop, gallery.meme}
    crop_id, crop_kind, crop_candidate = hits[gallery.crop]
    assert (crop_id, crop_kind in CROPS) == ("photo", True)
    assert crop_candidate
    meme_id, meme_kind, meme_candidate = hits[gallery.meme]
    assert (meme_id, meme_kind) == ("photo", "pdq")
    assert meme_candidate != "original"
    assert all(c.distance <= 31 for c in report.candidates)


def test_with_robust_matching_off_plain_pdq_finds_neither(
    gallery: RobustGallery, policy: FetchPolicy
) -> None:
    report = scan(
        [Crawl(gallery.index, depth=0)], gallery.bank, options=ScanOptions(policy=policy, robust=False)
    )
    assert report.candidates == []
    assert report.stats.hashed == 3


def test_a_plain_match_keeps_its_plain_kind_and_transform() -> None:
    im = picture(34)
    bank = BankSnapshot([robust_entry("p", "c", encode(im, "PNG"))])
    # The same picture: the plain hash is at distance 0, which no robust candidate can beat.
    data = encode(im, "PNG")
    (hit,) = bank.match(pdq_hash(data), None, query_signals(data))
    assert (hit.kind, hit.robust, hit.transform) == ("pdq", False, "original")


def test_a_turned_copy_takes_the_closer_of_the_plain_and_the_fresh_rotation() -> None:
    im = picture(34)
    bank = BankSnapshot([robust_entry("p", "c", encode(im, "PNG"))])
    data = encode(im.rotate(90, expand=True), quality=90)
    plain = min(v - bank.entries[0].pdq for v in pdq_hash(data).dihedral() if bank.entries[0].pdq)
    (hit,) = bank.match(pdq_hash(data), None, query_signals(data))
    # The query side hashes each turn afresh, which is never further than PDQ's dihedral trick.
    assert hit.kind == "pdq"
    assert hit.distance <= plain
    if not hit.robust:
        assert hit.transform in DIHEDRAL_ORDER[1:]


def test_the_snapshot_pickles_with_its_crop_signals() -> None:
    im = picture(31)
    bank = BankSnapshot([robust_entry("photo", "case-1", encode(im, "PNG"))])
    copy = pickle.loads(pickle.dumps(bank))
    data = cropped(im)
    assert copy.entries == bank.entries
    assert copy.robust_signals == bank.robust_signals > 1
    (hit,) = copy.match(pdq_hash(data), None, query_signals(data))
    assert (hit.entry.content_id, hit.robust, hit.kind in CROPS) == ("photo", True, True)


def test_crop_signals_below_the_quality_floor_are_not_matched() -> None:
    im = picture(31)
    entry = robust_entry("photo", "case-1", encode(im, "PNG"))
    flat = replace(entry, extra=tuple(Signal(s.kind, s.hash, 10) for s in entry.extra))
    assert BankSnapshot([flat]).robust_signals == 1  # only the whole-picture PDQ


def test_a_bank_entry_refuses_crop_signals_it_cannot_use() -> None:
    signal = Signal("centre80", PdqHash.from_hex("ab" * 32), 90)
    with pytest.raises(ValueError, match="crop signals but no PDQ hash"):
        BankEntry("x", "c", None, md5(b"x"), extra=(signal,))
    with pytest.raises(ValueError, match="unknown signal kinds pdq"):
        BankEntry("x", "c", signal.hash, extra=(Signal("pdq", signal.hash, 90),))


def test_a_bank_file_brings_the_crop_signals_of_haven_hash_robust(tmp_path: Path) -> None:
    data = encode(picture(31), "PNG")
    record = {"path": "photo.png", **robust_record(data)}
    path = tmp_path / "bank.jsonl"
    path.write_text(
        json.dumps(record) + "\n" + json.dumps({"path": "plain.png", "pdq": record["pdq"]}) + "\n"
    )
    robust, plain = JsonlBank(path).read_bank()
    assert [s.kind for s in robust.extra] == [e["kind"] for e in record["extra"]]
    assert plain.extra == ()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([{"kind": "middle", "pdq": "ab" * 32}], "line 1: unknown signal kind 'middle'"),
        ([{"kind": "centre80", "pdq": "xyz"}], "line 1: "),
        ("centre80", "line 1: 'extra' must be a list"),
    ],
)
def test_a_bank_file_with_bad_crop_signals_names_the_line(
    tmp_path: Path, extra: object, message: str
) -> None:
    path = tmp_path / "bank.jsonl"
    path.write_text(json.dumps({"path": "p.png", "pdq": "ab" * 32, "extra": extra}) + "\n")
    with pytest.raises(BankFileError, match=message):
        list(JsonlBank(path).read_bank())
    path.write_text(json.dumps({"path": "p.png", "md5": "ab" * 16, "extra": []}) + "\n")
    with pytest.raises(BankFileError, match="need a pdq"):
        list(JsonlBank(path).read_bank())


def test_a_crop_between_the_grid_points_is_found_by_refining(site: TestSite, policy: FetchPolicy) -> None:
    # A 67 % centre crop lies between the query side's recrops at 65 % and 70 %: only refining
    # the near miss towards the photo's centre64 signal brings it within the threshold.
    im = picture(31)
    w, h = im.size
    m = 0.165
    data = encode(im.crop((round(m * w), round(m * h), round(w - m * w), round(h - m * h))), quality=85)
    bank = BankSnapshot([robust_entry("photo", "case-1", encode(im, "PNG"))])
    assert bank.match(pdq_hash(data), None, query_signals(data)) == []  # without the picture: missed
    url = site.put("/refine-gallery/crop.jpg", data, "image/jpeg")
    index = site.put("/refine-gallery/index.html", '<html><body><img src="crop.jpg"></body></html>')
    report = scan([Crawl(index, depth=0)], bank, options=ScanOptions(policy=policy))
    ((content_id, kind, transform),) = found(report).values()
    assert (content_id, kind in CROPS) == ("photo", True)
    assert transform.endswith(":refined")
    assert report.candidates[0].media_url == url
    assert report.candidates[0].distance <= 31
