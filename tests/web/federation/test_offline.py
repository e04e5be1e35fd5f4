"""Shared hashes by signed file: centre A exports what a partner may have, anyone checks the file
without a server, and centre B imports it into an imported bank that its lookups match."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied

from haven.cli import main
from haven.web.accounts.models import Organisation
from haven.web.audit.chain import verify as verify_chain
from haven.web.audit.models import AuditEvent, EventType
from haven.web.cases import actions as cases
from haven.web.cases.models import Case, ContentItem
from haven.web.core.errors import ActionError, NotFound
from haven.web.federation import actions, identity, keys, signed_file
from haven.web.federation.actions import offline
from haven.web.federation.models import ImportedItem, Peer
from haven.web.sharing.actions import approve_case, revoke_partner
from haven.web.sharing.feed import native_page
from haven.web.sharing.models import Delivery, Partner
from tests.web.conftest import Persona
from tests.web.sharing.conftest import PartnerClient, add_photos

pytestmark = pytest.mark.django_db

Export = Callable[..., Path]


def _lookup(persona: Persona, pdq: str) -> list[dict[str, object]]:
    response = persona.api().post("/api/v1/lookup", {"pdq": [pdq]}, content_type="application/json")
    assert response.status_code == 200, response.content
    hits: list[dict[str, object]] = response.json()
    return hits


@pytest.fixture
def for_b(make_partner: Callable[..., PartnerClient]) -> Partner:
    """Centre B, registered at A as a partner of kind centre."""
    return make_partner("Centre B", kind="centre").partner


@pytest.fixture
def export(admin: Persona, for_b: Partner, shared_case: Case, tmp_path: Path) -> Export:
    def make(since: int = 0, name: str = "a.jsonl", partner: Partner | None = None) -> Path:
        path = tmp_path / name
        offline.export_for_partner(actor=admin.user, partner=partner or for_b, out=path, since=since)
        return path

    return make


@pytest.fixture
def a_fingerprint(org_a: Organisation) -> str:
    return identity.key_card(org_a).fingerprint


def _pdqs(case: Case) -> set[str]:
    return set(ContentItem.objects.filter(case=case).values_list("pdq", flat=True))


def _import(b_admin: Persona, path: Path | bytes, trust: str | None = None) -> offline.ImportResult:
    return offline.import_file(
        actor=b_admin.user,
        organisation=b_admin.user.organisation,
        peer_name="Centre A",
        path=path,
        trust=trust,
    )


def _checkpoint(path: Path) -> int:
    return signed_file.read_signed(path).checkpoint


# --- export and verify -----------------------------------------------------------------------


def test_an_export_verifies_and_holds_exactly_the_native_feed(
    export: Export, for_b: Partner, org_a: Organisation, a_fingerprint: str, shared_case: Case
) -> None:
    path = export()
    found = signed_file.read_signed(path, expected_fingerprint=a_fingerprint.replace(" ", "").upper())
    assert found.centre == org_a.name == "Centre A"
    assert found.partner == "Centre B"
    assert found.fingerprint == a_fingerprint
    assert found.after == 0
    assert found.counts() == {"active": 2, "withdrawn": 0, "deleted": 0}
    fed = json.loads(native_page(for_b, checkpoint=0, page_size=1000))
    assert list(found.records) == fed["records"]
    assert found.checkpoint == int(fed["checkpoint"])
    assert {r["signals"][0]["value"] for r in found.records} == _pdqs(shared_case)
    lines = path.read_bytes().split(b"\n")
    header = json.loads(lines[0])
    assert header["format"] == "haven-sharing/1"
    assert header["records"] == 2
    assert header["checkpoint"] == fed["checkpoint"]
    assert set(json.loads(lines[-2])) == {"signature"}
    assert lines[-1] == b""
    assert path.stat().st_mode & 0o077 == 0


def test_an_export_records_what_the_partner_was_sent_and_is_audited_without_hashes(
    export: Export, for_b: Partner, shared_case: Case
) -> None:
    export()
    assert Delivery.objects.filter(partner=for_b).count() == 2
    event = AuditEvent.objects.get(event_type=EventType.SHARING_EXPORTED)
    assert event.organisation_id == for_b.organisation_id
    assert event.summary["records"] == 2
    assert event.summary["active"] == 2
    assert not any(pdq in json.dumps(event.summary) for pdq in _pdqs(shared_case))
    assert verify_chain()[1] is None


def test_an_export_of_a_long_feed_pages_through_all_of_it(
    export: Export, counsellor: Persona, shared_case: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_photos(counsellor, shared_case, 5)
    approve_case(actor=counsellor.user, case=shared_case)
    monkeypatch.setattr(offline, "EXPORT_PAGE_SIZE", 2)
    found = signed_file.read_signed(export())
    assert len(found.records) == 7
    assert len({r["id"] for r in found.records}) == 7


def test_every_flipped_byte_is_refused(export: Export) -> None:
    data = export().read_bytes()
    accepted = []
    for offset in range(len(data)):
        for bit in range(8):
            damaged = bytearray(data)
            damaged[offset] ^= 1 << bit
            try:
                signed_file.read_signed(bytes(damaged))
            except keys.KeyProblem:
                continue
            accepted.append((offset, bit))
    assert accepted == []


def _drop_record(data: bytes) -> bytes:
    lines = data.split(b"\n")
    return b"\n".join([lines[0], *lines[2:]])


def _swap_signature(data: bytes, other: bytes) -> bytes:
    return data[: data.rstrip(b"\n").rfind(b"\n") + 1] + other[other.rstrip(b"\n").rfind(b"\n") + 1 :]


def _crlf(data: bytes) -> bytes:
    return data.replace(b"\n", b"\r\n")


DAMAGE: list[tuple[str, Callable[[bytes, bytes], bytes], str]] = [
    ("removed record", lambda d, o: _drop_record(d), "the signature does not match"),
    ("cut mid-line", lambda d, o: d[: len(d) // 2], "the file ends without a signature line"),
    ("cut before its signature", lambda d, o: d[: d.rstrip(b"\n").rfind(b"\n") + 1], "without a signature"),
    ("cut in the signature", lambda d, o: d[:-10], "cut short"),
    ("swapped signature", _swap_signature, "the signature does not match"),
    ("line ends changed", lambda d, o: _crlf(d), "line ends were changed to CRLF"),
    ("not JSON", lambda d, o: b"hash,status\nf8f8,active\n", "not a Haven sharing file"),
    ("another JSON Lines file", lambda d, o: b'{"path": "a.jpg", "pdq": "00"}\n', "not a Haven sharing"),
    ("empty", lambda d, o: b"", "the file is empty"),
]


@pytest.mark.parametrize(("damage", "message"), [(f, m) for _n, f, m in DAMAGE], ids=[n for n, *_ in DAMAGE])
def test_a_damaged_file_is_refused_with_its_reason_and_imports_nothing(
    export: Export,
    counsellor: Persona,
    shared_case: Case,
    b_admin: Persona,
    a_fingerprint: str,
    damage: Callable[[bytes, bytes], bytes],
    message: str,
) -> None:
    good = export().read_bytes()
    add_photos(counsellor, shared_case, 1)
    approve_case(actor=counsellor.user, case=shared_case)
    other = export(name="other.jsonl").read_bytes()
    damaged = damage(good, other)
    with pytest.raises(keys.KeyProblem, match=message):
        signed_file.read_signed(damaged)
    events = AuditEvent.objects.count()
    with pytest.raises(ActionError, match=message):
        _import(b_admin, damaged, trust=a_fingerprint)
    assert not Peer.objects.exists()
    assert not ImportedItem.objects.exists()
    assert AuditEvent.objects.count() == events


def test_a_file_signed_by_another_centre_is_refused_by_fingerprint(
    export: Export, org_b: Organisation, b_admin: Persona
) -> None:
    b_fingerprint = identity.key_card(org_b).fingerprint
    path = export()
    with pytest.raises(keys.KeyProblem, match=r"signed by a different centre: fingerprint .* expected "):
        signed_file.read_signed(path, expected_fingerprint=b_fingerprint)
    with pytest.raises(ActionError, match="signed by a different centre"):
        _import(b_admin, path, trust=b_fingerprint)
    assert not Peer.objects.exists()


def test_a_forged_file_that_claims_the_centres_fingerprint_is_refused(
    org_a: Organisation, a_fingerprint: str
) -> None:
    signing, exchange = keys.new_private_keys()
    card = keys.KeyCard("Centre A", *keys.public_of(signing, exchange))
    head = signed_file.header(card=card, partner="Hotline", created_at=1, after=0, checkpoint=0, records=0)
    head["fingerprint"] = a_fingerprint
    forged = signed_file.assemble(head, [], lambda data: keys.sign(signing, data))
    with pytest.raises(keys.KeyProblem, match="the header's fingerprint does not match its keys"):
        signed_file.read_signed(forged, expected_fingerprint=a_fingerprint)


def test_a_signed_header_that_miscounts_its_records_is_refused(export: Export) -> None:
    found = signed_file.read_signed(export())
    signing, exchange = keys.new_private_keys()
    card = keys.KeyCard("Centre A", *keys.public_of(signing, exchange))
    head = signed_file.header(
        card=card, partner="Hotline", created_at=1, after=0, checkpoint=found.checkpoint, records=3
    )
    data = signed_file.assemble(head, found.records, lambda data: keys.sign(signing, data))
    with pytest.raises(keys.KeyProblem, match="the header says 3 records but the file holds 2"):
        signed_file.read_signed(data)


@pytest.mark.parametrize("given", ["1234", "not a fingerprint at all, no hex digits in here!"])
def test_a_malformed_expected_fingerprint_is_refused(export: Export, given: str) -> None:
    with pytest.raises(keys.KeyProblem, match="is not a fingerprint"):
        signed_file.read_signed(export(), expected_fingerprint=given)


def test_only_the_centres_partner_managers_export(
    export: Export, counsellor: Persona, outsider: Persona, for_b: Partner, tmp_path: Path
) -> None:
    with pytest.raises(PermissionDenied):
        offline.export_for_partner(actor=counsellor.user, partner=for_b, out=tmp_path / "x.jsonl")
    with pytest.raises(PermissionDenied):
        offline.export_for_partner(actor=outsider.user, partner=for_b, out=tmp_path / "x.jsonl")
    assert not (tmp_path / "x.jsonl").exists()
    assert not Delivery.objects.exists()


def test_a_revoked_partner_gets_no_file(
    admin: Persona, for_b: Partner, shared_case: Case, tmp_path: Path
) -> None:
    revoke_partner(actor=admin.user, partner=for_b)
    with pytest.raises(ActionError, match="revoked"):
        offline.export_for_partner(actor=admin.user, partner=for_b, out=tmp_path / "x.jsonl")
    assert list(tmp_path.iterdir()) == []


def test_an_export_that_cannot_be_written_records_nothing(
    admin: Persona, for_b: Partner, shared_case: Case, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError):
        offline.export_for_partner(actor=admin.user, partner=for_b, out=tmp_path / "missing" / "a.jsonl")
    assert not Delivery.objects.exists()
    assert not AuditEvent.objects.filter(event_type=EventType.SHARING_EXPORTED).exists()


# --- import ------------------------------------------------------------------------------------


def test_an_imported_file_fills_a_bank_that_bs_lookup_finds(
    export: Export, shared_case: Case, b_admin: Persona, b_officer: Persona, a_fingerprint: str
) -> None:
    result = _import(b_admin, export(), trust=a_fingerprint)
    assert (result.peer_created, result.added, result.items) == (True, 2, 2)
    peer = Peer.objects.get(organisation=b_admin.user.organisation, name="Centre A")
    assert peer.url == ""
    assert not peer.active
    card = identity.key_card(shared_case.organisation_id)
    assert peer.signing_key == keys.b64(card.signing_key)
    assert peer.exchange_key == keys.b64(card.exchange_key)
    assert actions.peer_keys(peer) == {}
    assert peer.checkpoint == result.checkpoint
    assert peer.last_success_at is not None
    assert peer.pk not in actions.due_peers()
    pdq = next(iter(_pdqs(shared_case)))
    (hit,) = _lookup(b_officer, pdq)
    assert hit["imported"]["centre"] == "Centre A"  # type: ignore[index]
    assert shared_case.number not in json.dumps(hit)
    added = AuditEvent.objects.get(event_type=EventType.PEER_ADDED)
    imported = AuditEvent.objects.get(event_type=EventType.SHARING_IMPORTED)
    assert added.organisation_id == imported.organisation_id == b_admin.user.organisation_id
    assert imported.summary["added"] == 2
    assert imported.summary["fingerprint"] == a_fingerprint
    assert not any(p in json.dumps(imported.summary) for p in _pdqs(shared_case))


def test_a_new_peer_needs_the_fingerprint_confirmed(
    export: Export, b_admin: Persona, a_fingerprint: str
) -> None:
    with pytest.raises(ActionError, match=f"no peer 'Centre A' yet.*fingerprint {a_fingerprint}.*--trust"):
        _import(b_admin, export())
    assert not Peer.objects.exists()


def test_a_withdrawal_reaches_the_file_peer_as_tombstones(
    export: Export,
    shared_case: Case,
    counsellor: Persona,
    b_admin: Persona,
    b_officer: Persona,
    a_fingerprint: str,
) -> None:
    first = export()
    _import(b_admin, first, trust=a_fingerprint)
    pdq = next(iter(_pdqs(shared_case)))
    assert _lookup(b_officer, pdq)
    cases.record_consent(
        actor=counsellor.user, case=shared_case, scope="share", granted=False, method="phone"
    )
    second = export(since=_checkpoint(first), name="b.jsonl")
    found = signed_file.read_signed(second, expected_fingerprint=a_fingerprint)
    assert found.counts() == {"active": 0, "withdrawn": 2, "deleted": 0}
    assert {r["signals"][0]["value"] for r in found.records} == _pdqs(shared_case)
    result = _import(b_admin, second)
    assert (result.removed, result.items) == (2, 0)
    assert _lookup(b_officer, pdq) == []


def test_an_older_file_is_refused_after_a_newer_one(
    export: Export, shared_case: Case, counsellor: Persona, b_admin: Persona, a_fingerprint: str
) -> None:
    old = export()
    add_photos(counsellor, shared_case, 1)
    approve_case(actor=counsellor.user, case=shared_case)
    new = export(name="new.jsonl")
    assert _import(b_admin, new, trust=a_fingerprint).items == 3
    peer = Peer.objects.get()
    events = AuditEvent.objects.count()
    with pytest.raises(ActionError, match="older than what was already imported from Centre A"):
        _import(b_admin, old)
    peer.refresh_from_db()
    assert peer.checkpoint == _checkpoint(new)
    assert ImportedItem.objects.count() == 3
    assert AuditEvent.objects.count() == events


def test_a_file_that_would_leave_a_gap_is_refused(
    export: Export, shared_case: Case, counsellor: Persona, b_admin: Persona, a_fingerprint: str
) -> None:
    first = export()
    add_photos(counsellor, shared_case, 1)
    approve_case(actor=counsellor.user, case=shared_case)
    later = export(since=_checkpoint(first), name="later.jsonl")
    with pytest.raises(ActionError, match="would be missed; ask Centre A for a file made with --since 0"):
        _import(b_admin, later, trust=a_fingerprint)
    assert not Peer.objects.exists()
    assert not ImportedItem.objects.exists()


def test_importing_the_same_file_again_adds_nothing(
    export: Export, b_admin: Persona, a_fingerprint: str
) -> None:
    path = export()
    _import(b_admin, path, trust=a_fingerprint)
    again = _import(b_admin, path)
    assert (again.added, again.updated, again.items, again.peer_created) == (0, 2, 2, False)


def test_a_file_not_signed_with_the_pinned_key_is_refused(
    export: Export, org_b: Organisation, b_admin: Persona, a_fingerprint: str
) -> None:
    other = identity.key_card(org_b)
    peer = offline.add_file_peer(
        actor=b_admin.user, organisation=org_b, name="Centre A", card=other, fingerprint=other.fingerprint
    )
    with pytest.raises(
        ActionError, match=f"fingerprint {a_fingerprint}, not with the key pinned for Centre A"
    ):
        offline.import_for_peer(actor=b_admin.user, peer=peer, path=export())
    assert not ImportedItem.objects.exists()


def test_a_peer_without_a_pinned_key_takes_no_files(
    export: Export, org_b: Organisation, b_admin: Persona, private_peers: None
) -> None:
    keys_ = {name: "k" * 20 for name in ("subscription_key", "fetch_key", "feedback_key", "submit_key")}
    peer = actions.add_peer(
        actor=b_admin.user, organisation=org_b, name="Centre A", url="http://127.0.0.1:9", keys=keys_
    )
    with pytest.raises(ActionError, match="no signing key is pinned for Centre A"):
        offline.import_for_peer(actor=b_admin.user, peer=peer, path=export())
    assert not ImportedItem.objects.exists()


def test_only_the_peers_own_partner_managers_import(
    export: Export,
    org_b: Organisation,
    b_admin: Persona,
    admin: Persona,
    b_officer: Persona,
    a_fingerprint: str,
) -> None:
    path = export()
    _import(b_admin, path, trust=a_fingerprint)
    peer = Peer.objects.get()
    with pytest.raises(NotFound):
        offline.import_for_peer(actor=admin.user, peer=peer, path=path)
    with pytest.raises(PermissionDenied):
        offline.import_for_peer(actor=b_officer.user, peer=peer, path=path)
    with pytest.raises(ActionError, match="your own organisation"):
        offline.import_file(
            actor=admin.user, organisation=org_b, peer_name="X", path=path, trust=a_fingerprint
        )


def test_a_file_peer_needs_the_fingerprint_of_the_card(org_b: Organisation, b_admin: Persona) -> None:
    card = identity.key_card(org_b)
    with pytest.raises(ActionError, match="the fingerprint you confirmed is not"):
        offline.add_file_peer(
            actor=b_admin.user, organisation=org_b, name="B itself", card=card, fingerprint="0" * 32
        )
    assert not Peer.objects.exists()


def test_a_signed_file_with_an_invalid_record_changes_nothing(org_b: Organisation, b_admin: Persona) -> None:
    signing, exchange = keys.new_private_keys()
    card = keys.KeyCard("Centre A", *keys.public_of(signing, exchange))
    record = {"id": "hvi-abc", "case_ref": "hvc-abc", "status": "active", "updated_at": 1, "kind": "photo"}
    record["signals"] = [{"type": "pdq", "value": "not hex"}]  # type: ignore[assignment]
    head = signed_file.header(card=card, partner="Centre B", created_at=1, after=0, checkpoint=5, records=1)
    data = signed_file.assemble(head, [record], lambda d: keys.sign(signing, d))
    assert signed_file.read_signed(data).counts()["active"] == 1
    with pytest.raises(ActionError, match=r"line 2 is not a valid feed record \(signals.0.pdq.value"):
        _import(b_admin, data, trust=card.fingerprint)
    assert not Peer.objects.exists()


# --- the command line --------------------------------------------------------------------------


def test_the_commands_export_verify_and_import_in_process(
    for_b: Partner,
    shared_case: Case,
    org_b: Organisation,
    a_fingerprint: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "for-b.jsonl"
    assert main(["sharing", "export", "--org", "centre-a", "--partner", "Centre B", str(path)]) == 0
    out = capsys.readouterr().out
    assert "wrote 2 record(s) for Centre B" in out
    assert "--since" in out
    assert main(["centre", "key", "--org", "centre-a", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["fingerprint"] == a_fingerprint
    assert main(["sharing", "verify", str(path), "--fingerprint", a_fingerprint, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is True
    assert report["fingerprint_checked"] is True
    assert report["active"] == 2
    argv = ["sharing", "import", str(path), "--org", "centre-b", "--peer", "Centre A", "--json"]
    assert main(argv) == 1
    assert "--trust" in capsys.readouterr().err
    assert main([*argv, "--trust", a_fingerprint]) == 0
    assert json.loads(capsys.readouterr().out)["added"] == 2
    assert ImportedItem.objects.filter(organisation=org_b).count() == 2


def test_the_commands_refuse_clearly(
    export: Export, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = export()
    damaged = tmp_path / "damaged.jsonl"
    damaged.write_bytes(_drop_record(path.read_bytes()))
    assert main(["sharing", "verify", str(damaged)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("haven sharing verify: ")
    assert "does not match" in err
    assert main(["sharing", "verify", str(damaged), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["valid"] is False
    assert main(["sharing", "verify", str(tmp_path / "nowhere.jsonl")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main(["sharing", "verify", str(path), "--fingerprint", "12 34"]) == 2
    assert main(["sharing", "export", "--org", "centre-a", "--partner", "Nobody", str(tmp_path / "n")]) == 1
    assert "no partner 'Nobody'" in capsys.readouterr().err
    out = ["sharing", "export", "--org", "centre-a", "--partner", "Centre B", str(tmp_path / "no" / "x")]
    assert main(out) == 2
    assert "cannot write" in capsys.readouterr().err
    assert main([*out[:-1], "--since", "999", str(tmp_path / "x")]) == 1
    assert "past the end" in capsys.readouterr().err
    assert not list(tmp_path.glob(".*.part"))
    assert main(["sharing", "import", str(path), "--org", "nowhere", "--peer", "A"]) == 1
    assert main(["centre", "key", "--org", "nowhere"]) == 1


_SEED = """
import secrets, sys
from haven.web.core.commands import migrate, setup
setup()
migrate(sys.stdout)
from haven.web.accounts.actions import create_organisation, create_user
from haven.web.cases import actions as cases
from haven.web.sharing.actions import approve_case, create_partner
a = create_organisation(actor="cli", name="Centre A", slug="centre-a", country="KR")
create_organisation(actor="cli", name="Centre B", slug="centre-b", country="DE")
user = create_user(
    actor="cli", username="c", organisation=a, role="counsellor", password="correct horse battery staple 9"
)
case = cases.create_case(actor=user)
cases.record_consent(actor=user, case=case, scope="share", granted=True, method="in_person")
photos = [cases.HashInput(label=str(i), pdq=secrets.token_hex(32), quality=90) for i in range(2)]
cases.add_content(actor=user, case=case, items=photos)
approve_case(actor=user, case=case)
create_partner(actor="cli", organisation=a, name="Hotline", kind="hotline")
"""


def _haven() -> list[str]:
    found = shutil.which("haven", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "haven"]


def test_the_commands_run_as_programs_and_verify_needs_no_django(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HAVEN_", "DJANGO_"))}
    env["HAVEN_DATA_DIR"] = str(tmp_path / "data")

    def run(*args: str, environment: dict[str, str] = env) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*_haven(), *args], env=environment, capture_output=True, text=True, timeout=120, check=False
        )

    seed = subprocess.run(
        [sys.executable, "-c", _SEED], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert seed.returncode == 0, seed.stderr
    key = run("centre", "key", "--org", "centre-a", "--json")
    assert key.returncode == 0, key.stderr
    fingerprint = json.loads(key.stdout)["fingerprint"]
    path = tmp_path / "for-hotline.jsonl"
    exported = run("sharing", "export", "--org", "centre-a", "--partner", "Hotline", str(path))
    assert exported.returncode == 0, exported.stderr
    assert "wrote 2 record(s) for Hotline" in exported.stdout

    # The hotline's machine: the haven package, no settings, no database, and no Django at all.
    no_django = tmp_path / "no-django"
    (no_django / "django").mkdir(parents=True)
    (no_django / "django" / "__init__.py").write_text("raise ImportError('Django is not installed here')\n")
    bare = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "PYTHONPATH": str(no_django)}
    checked = run("sharing", "verify", str(path), "--fingerprint", fingerprint, environment=bare)
    assert checked.returncode == 0, checked.stderr
    assert "intact: the signature matches the key of Centre A" in checked.stdout
    assert "2 (2 active, 0 withdrawn, 0 deleted)" in checked.stdout
    wrong = run("sharing", "verify", str(path), "--fingerprint", "0" * 32, environment=bare)
    assert wrong.returncode == 1
    assert "signed by a different centre" in wrong.stderr
    path.write_bytes(path.read_bytes().replace(b'"active"', b'"Active"', 1))
    tampered = run("sharing", "verify", str(path), "--json", environment=bare)
    assert tampered.returncode == 1
    assert json.loads(tampered.stdout)["valid"] is False
    assert "the signature does not match" in tampered.stderr

    fresh = tmp_path / "again.jsonl"
    assert run("sharing", "export", "--org", "centre-a", "--partner", "Hotline", str(fresh)).returncode == 0
    imported = run(
        "sharing",
        "import",
        str(fresh),
        "--org",
        "centre-b",
        "--peer",
        "Centre A",
        "--trust",
        fingerprint,
        "--json",
    )
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["items"] == 2
    peers = run("peer", "list", "--org", "centre-b", "--json")
    assert [(p["name"], p["items"]) for p in json.loads(peers.stdout)] == [("Centre A", 2)]
    assert run("audit", "verify").returncode == 0
