"""`haven scan`: candidates as JSON Lines on stdout, a summary on stderr, exit status by outcome."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from haven.cli import main
from haven.signals import CROPS

from .scan.content import cropped, encode, picture, repost
from .scan.site import TestSite, serve


@pytest.fixture(scope="module")
def site() -> Iterator[TestSite]:
    yield from serve()


@pytest.fixture(scope="module")
def bank_and_site(site: TestSite, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, TestSite]:
    folder = tmp_path_factory.mktemp("bank")
    original = picture(51)
    (folder / "wanted.png").write_bytes(encode(original, "PNG"))
    site.put("/cli/copy.jpg", repost(original), "image/jpeg")
    site.put("/cli/other.jpg", encode(picture(52)), "image/jpeg")
    site.put("/cli/index.html", '<img src="copy.jpg"><a href="two.html">2</a><img src="gone.jpg">')
    site.put("/cli/two.html", '<img src="other.jpg">')
    return folder, site


def bank_file(folder: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert main(["hash", str(folder / "wanted.png")]) == 0
    path = folder / "bank.jsonl"
    path.write_text(capsys.readouterr().out)
    return path


def test_it_prints_candidates_and_a_summary(
    bank_and_site: tuple[Path, TestSite], capsys: pytest.CaptureFixture[str]
) -> None:
    folder, site = bank_and_site
    bank = bank_file(folder, capsys)
    status = main(["scan", "--bank", str(bank), "--allow-loopback", site.url("/cli/index.html")])
    captured = capsys.readouterr()
    assert status == 0
    (line,) = captured.out.splitlines()
    record = json.loads(line)
    assert record["media_url"] == site.url("/cli/copy.jpg")
    assert record["page_url"] == site.url("/cli/index.html")
    assert Path(record["content_id"]).name == "wanted.png"
    assert record["kind"] == "pdq"
    assert "scan summary" in captured.err
    assert "pages read" in captured.err
    assert "http_status 1" in captured.err
    assert "gone.jpg answered HTTP 404" in captured.err


def test_the_depth_and_a_folder_source(
    bank_and_site: tuple[Path, TestSite], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder, site = bank_and_site
    bank = bank_file(folder, capsys)
    (tmp_path / "found.jpg").write_bytes(repost(picture(51)))
    status = main(
        [
            "scan",
            "--bank",
            str(bank),
            "--allow-loopback",
            "--depth",
            "0",
            site.url("/cli/index.html"),
            str(tmp_path),
        ]
    )
    out = capsys.readouterr()
    assert status == 0
    assert len(out.out.splitlines()) == 2
    assert "crawl of" in out.err
    assert "folder" in out.err


def test_loopback_is_refused_without_the_testing_flag(
    bank_and_site: tuple[Path, TestSite], capsys: pytest.CaptureFixture[str]
) -> None:
    _, site = bank_and_site
    assert main(["scan", site.url("/cli/index.html")]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "blocked_address 1" in captured.err
    assert "no --bank given" in captured.err


@pytest.mark.parametrize(
    "args",
    [
        ["scan", "ftp://example.org/"],
        ["scan", "sitemap:not-a-url"],
        ["scan", "urls:/no/such/file.txt"],
        ["scan", "--bank", "/no/such/bank.jsonl", "https://example.org/"],
    ],
)
def test_unusable_arguments_exit_with_status_two(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    assert capsys.readouterr().err.startswith("haven scan: ")


@pytest.mark.parametrize(
    "args", [["scan"], ["scan", "--threshold", "65", "x"], ["scan", "--depth", "-1", "x"]]
)
def test_bad_options_are_usage_errors(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2


def test_help_documents_the_source_syntax(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["scan", "--help"])
    text = capsys.readouterr().out
    for form in ("sitemap:URL", "feed:URL", "urls:FILE", "warc:FILE", "DIR", "--allow-loopback"):
        assert form in text


def test_a_robust_bank_finds_a_cropped_copy_unless_robust_matching_is_off(
    site: TestSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = picture(53)
    (tmp_path / "wanted.png").write_bytes(encode(original, "PNG"))
    site.put("/cli-robust/crop.jpg", cropped(original), "image/jpeg")
    site.put("/cli-robust/index.html", '<img src="crop.jpg">')
    assert main(["hash", "--robust", str(tmp_path / "wanted.png")]) == 0
    bank = tmp_path / "bank.jsonl"
    bank.write_text(capsys.readouterr().out)
    assert "extra" in json.loads(bank.read_text())
    url = site.url("/cli-robust/index.html")
    assert main(["scan", "--bank", str(bank), "--allow-loopback", url]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    record = json.loads(line)
    assert record["media_url"] == site.url("/cli-robust/crop.jpg")
    assert record["kind"] in CROPS
    assert main(["scan", "--no-robust", "--bank", str(bank), "--allow-loopback", url]) == 0
    assert capsys.readouterr().out == ""
