"""The extension inside pytx's own CLI (in-process): configure, fetch, match, withdraw, label."""

from __future__ import annotations

import pathlib
import typing as t

import pytest
from threatexchange.cli.exceptions import CommandError
from threatexchange.cli.main import inner_main

from fake_haven import FEEDBACK_KEY, FETCH_KEY, SUBSCRIPTION_KEY, FakeHaven, page, photo

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
NEAR = "f8f8f0cee0f4a84f06370a2a038f63f0b36e26d596621e1d33e6b39c4e9c9b22"  # 2 bits away
# Far from PDQ. The CLI's PDQ index (faiss IndexBinaryMultiHash) loses a lone hash, or two equal
# ones, when it is written and read back (faiss-cpu 1.15), so every test keeps three in it.
OTHERS = ("00" * 32, "0f" * 32)


def feed(*records: dict[str, t.Any], checkpoint: str = "1") -> dict[str, t.Any]:
    others = [photo(f"hvi-other-{i}", (value, "whole")) for i, value in enumerate(OTHERS)]
    return page(checkpoint, [*others, *records])


@pytest.fixture
def tx(haven: FakeHaven, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """A pytx CLI state directory with the extension added and one Haven collaboration."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("TX_HAVEN_KEYS", f"{FETCH_KEY},{SUBSCRIPTION_KEY},{haven.base_url},{FEEDBACK_KEY}")
    state = tmp_path / ".threatexchange"
    inner_main(["config", "extensions", "add", "haven_threatexchange"], state_dir=state)
    inner_main(["config", "collab", "edit", "haven", "Haven centre", "--create"], state_dir=state)
    return state


def match(state: pathlib.Path, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> str:
    query = tmp_path / "query.txt"
    query.write_text(NEAR + "\n")
    capsys.readouterr()
    inner_main(["match", "--hashes", "photo", str(query)], state_dir=state)
    return capsys.readouterr().out


def test_fetch_then_match_then_withdraw(
    tx: pathlib.Path, haven: FakeHaven, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    haven.serve_feed(("1", feed(photo("hvi-1", (PDQ, "whole")))))

    inner_main(["fetch"], state_dir=tx)

    assert "pdq 2 (Haven centre) INVESTIGATION_SEED" in match(tx, tmp_path, capsys)

    haven.pages["1"] = (200, page("2", [photo("hvi-1", (PDQ, "whole"), status="withdrawn")]))
    inner_main(["fetch"], state_dir=tx)

    assert haven.feed_requests()[-1].query["checkpoint"] == ["1"]
    assert "Haven centre" not in match(tx, tmp_path, capsys)
    capsys.readouterr()
    inner_main(["dataset"], state_dir=tx)
    assert "pdq: 2" in capsys.readouterr().out


def test_a_garbage_page_fails_the_fetch_and_keeps_the_checkpoint(
    tx: pathlib.Path, haven: FakeHaven, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    haven.serve_feed(("1", feed(photo("hvi-1", (PDQ, "whole")))))
    inner_main(["fetch"], state_dir=tx)
    haven.pages["1"] = (200, {"checkpoint": "2", "has_more": False, "records": [{"id": "hvi-1"}]})

    with pytest.raises(CommandError, match="Some collabs had errors"):
        inner_main(["fetch"], state_dir=tx)

    haven.pages["1"] = (200, page("1", []))
    inner_main(["fetch"], state_dir=tx)
    assert haven.feed_requests()[-1].query["checkpoint"] == ["1"]
    assert "Haven centre" in match(tx, tmp_path, capsys)


def test_label_reports_a_positive_opinion(tx: pathlib.Path, haven: FakeHaven, tmp_path: pathlib.Path) -> None:
    hash_file = tmp_path / "hash.txt"
    hash_file.write_text(PDQ)

    inner_main(
        ["label", "--as-hash", "pdq", "-l", "upload-blocked", "Haven centre", "photo", str(hash_file)],
        state_dir=tx,
    )

    [sent] = haven.seen
    assert sent.path == "/api/sharing/v1/opinions"
    assert sent.body == {
        "opinions": [{"type": "pdq", "value": PDQ, "opinion": "Blocked", "tags": ["upload-blocked"]}]
    }
