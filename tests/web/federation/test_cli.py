"""The federation commands: ``haven peer add|fetch|list`` and ``haven transfer ...``, with --json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pytest_django.live_server_helper import LiveServer

from haven.cli import main
from haven.web.cases import actions as cases
from haven.web.cases.models import Case, CaseStatus
from haven.web.federation.models import IncomingTransfer, OutgoingTransfer, Peer
from tests.web.conftest import Persona

pytestmark = pytest.mark.django_db(transaction=True)


def _json(capsys: pytest.CaptureFixture[str], argv: list[str], status: int = 0) -> Any:
    capsys.readouterr()
    assert main(argv) == status
    out = capsys.readouterr().out
    return json.loads(out) if status == 0 else None


def test_a_peer_is_added_fetched_and_listed_from_the_command_line(
    live_server: LiveServer,
    shared_case: Case,
    centre_keys: dict[str, str],
    b_admin: Persona,
    private_peers: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(centre_keys))
    org = b_admin.user.organisation.slug
    added = _json(
        capsys,
        ["peer", "add", "Centre A", "--org", org, "--url", live_server.url, "--keys", str(keys), "--json"],
    )
    assert added["name"] == "Centre A"
    fetched = _json(capsys, ["peer", "fetch", "Centre A", "--json"])
    assert fetched["error"] == ""
    assert fetched["items"] == 2
    (listed,) = _json(capsys, ["peer", "list", "--org", org, "--json"])
    assert (listed["items"], listed["last_error"]) == (2, "")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["peer", "add", "X", "--org", "nowhere", "--url", "https://x.test", "--keys", "KEYS"],
            "no organisation",
        ),
        (["peer", "add", "X", "--org", "centre-b", "--url", "file:///etc", "--keys", "KEYS"], "https://"),
        (
            ["peer", "add", "X", "--org", "centre-b", "--url", "https://x.test", "--keys", "/nonexistent"],
            "cannot read",
        ),
        (["peer", "fetch", "Nobody"], "no peer"),
    ],
)
def test_peer_commands_refuse_bad_input_clearly(
    argv: list[str],
    message: str,
    centre_keys: dict[str, str],
    b_admin: Persona,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(centre_keys))
    argv = [str(keys) if a == "KEYS" else a for a in argv]
    assert main(argv) in (1, 2)
    assert message in capsys.readouterr().err
    assert Peer.objects.count() == 0


def test_a_case_is_transferred_from_the_command_line(
    a_peer: Peer,
    case: Case,
    counsellor: Persona,
    b_counsellor: Persona,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from haven.web.federation import actions

    actions.fetch_peer(a_peer.pk)
    cases.record_consent(actor=counsellor.user, case=case, scope="transfer", granted=True, method="phone")
    a, b = counsellor.user.username, b_counsellor.user.username
    offered = _json(capsys, ["transfer", "offer", case.number, "--to", "Centre B", "--user", a, "--json"])
    assert (offered["state"], offered["centre"], offered["case_number"]) == (
        "offered",
        "Centre B",
        case.number,
    )
    # The offer also travels as a file; B imports it, and the network copy is then already known.
    out = tmp_path / "offer.json"
    _json(capsys, ["transfer", "export", offered["offer_id"], "--user", a, "--out", str(out), "--json"])
    imported = _json(capsys, ["transfer", "import", str(out), "--user", b, "--json"])
    assert (imported["direction"], imported["state"]) == ("in", "offered")
    actions.fetch_peer(a_peer.pk)
    assert IncomingTransfer.objects.count() == 1
    accepted = _json(capsys, ["transfer", "accept", offered["offer_id"], "--user", b, "--json"])
    assert accepted["state"] == "accepted"
    assert accepted["case_number"]
    case.refresh_from_db()
    assert case.status == CaseStatus.TRANSFERRED
    rows = _json(capsys, ["transfer", "list", "--user", a, "--json"])
    assert [(r["direction"], r["state"]) for r in rows] == [("out", "accepted")]
    assert main(["transfer", "revoke", offered["offer_id"], "--user", a]) == 1
    assert "still open" in capsys.readouterr().err


def test_transfer_commands_refuse_clearly(
    counsellor: Persona, officer: Persona, case: Case, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["transfer", "list", "--user", "nobody"]) == 1
    assert "no active staff member" in capsys.readouterr().err
    assert main(["transfer", "accept", "not-a-uuid", "--user", counsellor.user.username]) == 1
    assert "is not an offer id" in capsys.readouterr().err
    assert (
        main(["transfer", "offer", case.number, "--to", "Nowhere", "--user", counsellor.user.username]) == 1
    )
    assert "no partner centre" in capsys.readouterr().err
    assert main(["transfer", "list", "--user", officer.user.username]) == 1  # not a deletion officer's work
    assert "permission" in capsys.readouterr().err
    assert OutgoingTransfer.objects.count() == 0
