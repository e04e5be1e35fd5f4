"""Someone who can write to the database tampers with the audit trail, as an insider or an intruder
would; every way is caught, and the message names the first bad event.

The chain's links are keyed (HMAC under HAVEN_AUDIT_KEYS, which is not in the database); signed
checkpoints kept outside the database catch what a chain alone cannot: its newest events cut off,
or a rewrite by someone who also holds the key.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import time
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.core import mail
from django.db import connection, transaction
from django.test import override_settings

from haven.cli import main
from haven.web.audit import checkpoints
from haven.web.audit.chain import _canonical, append, compute_digest, verify
from haven.web.audit.keys import by_id, current, key_id, keys
from haven.web.audit.models import AuditEvent, ChainHead, EventType
from haven.web.cases import actions
from haven.web.cases.models import Case
from haven.web.core.commands import audit_verify
from tests.processes import free_port

from ..conftest import Mailbox, Persona

pytestmark = pytest.mark.django_db

NEW_KEY = base64.urlsafe_b64encode(b"n" * 32).decode()


def _sql(statement: str, params: list[object]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


@pytest.fixture
def trail(case: Case, counsellor: Persona) -> list[AuditEvent]:
    """A trail of a few events: the case made, its status changed three times."""
    for status in ("active", "monitoring", "closed"):
        actions.change_status(actor=counsellor.user, case=Case.objects.get(pk=case.pk), status=status)
    events = list(AuditEvent.objects.order_by("sequence"))
    assert len(events) >= 4
    assert verify() == (len(events), None)
    return events


def _verify_text(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    checkpoints_dir = args[0] if args else None
    code = audit_verify(out, checkpoints=checkpoints_dir, public_keys=list(args[1:]))
    return code, out.getvalue()


def test_a_deleted_event_mid_chain(trail: list[AuditEvent]) -> None:
    _sql("DELETE FROM audit_auditevent WHERE id = %s", [trail[1].pk])
    code, text = _verify_text()
    assert code == 1
    assert f"BROKEN at event #{trail[1].sequence}" in text


def test_two_events_swapped(trail: list[AuditEvent]) -> None:
    first, second = trail[1], trail[2]
    _sql("UPDATE audit_auditevent SET sequence = -1 WHERE id = %s", [first.pk])
    _sql("UPDATE audit_auditevent SET sequence = %s WHERE id = %s", [first.sequence, second.pk])
    _sql("UPDATE audit_auditevent SET sequence = %s WHERE id = %s", [second.sequence, first.pk])
    code, text = _verify_text()
    assert code == 1
    assert f"BROKEN at event #{first.sequence}" in text


def test_a_digest_replaced(trail: list[AuditEvent]) -> None:
    _sql("UPDATE audit_auditevent SET digest = %s WHERE id = %s", ["f" * 64, trail[2].pk])
    code, text = _verify_text()
    assert code == 1
    assert f"BROKEN at event #{trail[2].sequence}" in text


def test_a_rewrite_with_plain_sha256_digests_recomputed(trail: list[AuditEvent]) -> None:
    """What an unkeyed chain could not catch: change an event, recompute every digest after it."""
    target = trail[1]
    _sql("UPDATE audit_auditevent SET actor_label = %s WHERE id = %s", ["someone-else", target.pk])
    previous = trail[0].digest
    for event in AuditEvent.objects.filter(sequence__gte=target.sequence).order_by("sequence"):
        event.previous_digest = previous
        event.digest = hashlib.sha256(_canonical(event)).hexdigest()
        _sql(
            "UPDATE audit_auditevent SET previous_digest = %s, digest = %s WHERE id = %s",
            [event.previous_digest, event.digest, event.pk],
        )
        previous = event.digest
    _sql("UPDATE audit_chainhead SET digest = %s WHERE id = 1", [previous])
    code, text = _verify_text()
    assert code == 1
    assert f"BROKEN at event #{target.sequence}: contents changed" in text


def _insider_rewrite(target: AuditEvent, label: str) -> None:
    """One who holds the audit key changes an event and links everything after it again."""
    _sql("UPDATE audit_auditevent SET actor_label = %s WHERE id = %s", [label, target.pk])
    previous = AuditEvent.objects.get(sequence=target.sequence - 1).digest
    for event in AuditEvent.objects.filter(sequence__gte=target.sequence).order_by("sequence"):
        event.previous_digest = previous
        event.digest = compute_digest(event, current())
        _sql(
            "UPDATE audit_auditevent SET previous_digest = %s, digest = %s WHERE id = %s",
            [event.previous_digest, event.digest, event.pk],
        )
        previous = event.digest
    _sql("UPDATE audit_chainhead SET digest = %s WHERE id = 1", [previous])


def test_the_tail_cut_off_and_the_head_moved_back_is_caught_by_a_checkpoint(
    trail: list[AuditEvent], tmp_path: Path
) -> None:
    written = checkpoints.write(tmp_path)
    assert written is not None
    assert written.sequence == trail[-1].sequence
    keep = trail[-3]
    _sql("DELETE FROM audit_auditevent WHERE sequence > %s", [keep.sequence])
    _sql("UPDATE audit_chainhead SET sequence = %s, digest = %s WHERE id = 1", [keep.sequence, keep.digest])
    assert verify()[1] is None  # a shorter chain is still a chain
    code, text = _verify_text(str(tmp_path))
    assert code == 1
    assert f"checkpoints FAIL at event #{keep.sequence + 1}" in text
    assert f"events from #{keep.sequence + 1} on were removed" in text


def test_a_rewrite_by_someone_with_the_key_is_caught_by_a_checkpoint(
    trail: list[AuditEvent], tmp_path: Path, case: Case, counsellor: Persona
) -> None:
    checkpoints.write(tmp_path)
    middle = trail[-1].sequence
    actions.update_case(actor=counsellor.user, case=Case.objects.get(pk=case.pk), notes="more")
    checkpoints.write(tmp_path)
    _insider_rewrite(trail[2], "someone-else")
    assert verify()[1] is None  # the chain itself verifies: the key was used
    code, text = _verify_text(str(tmp_path))
    assert code == 1
    assert "checkpoints FAIL at event #1" in text  # no earlier checkpoint vouches for anything
    assert f"event #{middle} is not the one the checkpoint" in text


def test_an_edited_or_made_up_checkpoint_fails_its_signature(trail: list[AuditEvent], tmp_path: Path) -> None:
    checkpoints.write(tmp_path)
    file = tmp_path / "checkpoints.jsonl"
    line = json.loads(file.read_text())
    edited = {**line, "digest": "0" * 64}
    file.write_text(json.dumps(edited) + "\n")
    code, text = _verify_text(str(tmp_path))
    assert code == 1
    assert "checkpoint line 1 (event #" in text
    assert "does not carry a valid signature" in text
    file.write_text("not json\n")
    assert "is not a checkpoint" in _verify_text(str(tmp_path))[1]
    # Signed, but with a key this server does not hold.
    with override_settings(HAVEN_AUDIT_KEYS=[NEW_KEY]):
        made_up = checkpoints.Checkpoint(line["sequence"], line["digest"], line["at"], current().id)
        signature = base64.urlsafe_b64encode(current().signer.sign(made_up.message())).decode()
    file.write_text(json.dumps({**json.loads(made_up.message()), "signature": signature}) + "\n")
    assert "does not carry a valid signature" in _verify_text(str(tmp_path))[1]


def test_an_intact_trail_and_its_checkpoints_pass_with_the_auditor_s_public_key(
    trail: list[AuditEvent],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    case: Case,
    counsellor: Persona,
) -> None:
    assert main(["audit", "checkpoint"]) == 0
    actions.update_case(actor=counsellor.user, case=Case.objects.get(pk=case.pk), notes="more")
    assert main(["audit", "public-key"]) == 0
    public = capsys.readouterr().out.split()[-4]  # the key printed before "key <id> (current)"
    folder = str(checkpoints.path().parent)
    assert main(["audit", "verify", "--checkpoints", folder, "--public-key", public]) == 0
    text = capsys.readouterr().out
    assert "audit chain intact" in text
    assert f"no event up to #{trail[-1].sequence}" in text
    assert "1 events after it" in text
    other = base64.urlsafe_b64encode(b"\x01" * 32).decode()
    assert main(["audit", "verify", "--checkpoints", folder, "--public-key", other]) == 1
    assert main(["audit", "verify", "--checkpoints", folder, "--public-key", "not-a-key"]) == 2


def keys_text() -> list[str]:
    return list(settings.HAVEN_AUDIT_KEYS)


def test_a_new_key_starts_with_a_rotation_event_and_old_links_still_verify(trail: list[AuditEvent]) -> None:
    old = current().id
    with override_settings(HAVEN_AUDIT_KEYS=[NEW_KEY, *keys_text()]):
        new = current().id
        with transaction.atomic():
            append(actor="system", event_type=EventType.LOOKUP)
        after, rotated = list(AuditEvent.objects.order_by("-sequence")[:2])
        assert rotated.event_type == EventType.AUDIT_KEY_ROTATED
        assert rotated.summary == {"from": old, "to": new}
        assert (rotated.key_id, after.key_id) == (new, new)
        assert verify()[1] is None
    # A server that lost the old key cannot vouch for the events it linked.
    with override_settings(HAVEN_AUDIT_KEYS=[NEW_KEY]):
        _checked, broken = verify()
        assert broken is not None
        assert broken.sequence == 1
        assert f"key this server does not have (key id {old})" in broken.reason


def test_a_key_change_without_a_rotation_event_is_caught(trail: list[AuditEvent]) -> None:
    """One who holds an old key links an event under it, after events of the current key."""
    with override_settings(HAVEN_AUDIT_KEYS=[*keys_text(), NEW_KEY]):
        forged = AuditEvent.objects.get(sequence=trail[-1].sequence)
        other = by_id(key_id(base64.urlsafe_b64decode(NEW_KEY)))
        assert other is not None
        forged.key_id = other.id
        forged.digest = compute_digest(forged, other)
        _sql(
            "UPDATE audit_auditevent SET key_id = %s, digest = %s WHERE id = %s",
            [forged.key_id, forged.digest, forged.pk],
        )
        _sql("UPDATE audit_chainhead SET digest = %s WHERE id = 1", [forged.digest])
        _checked, broken = verify()
    assert broken is not None
    assert broken.sequence == forged.sequence
    assert "without a key-rotation event" in broken.reason


def test_the_worker_writes_a_checkpoint_only_when_the_chain_grew_and_mails_it(
    trail: list[AuditEvent], tmp_path: Path, case: Case, counsellor: Persona
) -> None:
    from haven.web.audit.tasks import sweep

    with override_settings(
        HAVEN_AUDIT_CHECKPOINT_DIR=tmp_path, HAVEN_AUDIT_CHECKPOINT_EMAIL=["security@centre.example"]
    ):
        assert sweep.call() == 1
        assert sweep.call() == 0  # nothing new
        actions.update_case(actor=counsellor.user, case=Case.objects.get(pk=case.pk), notes="more")
        assert sweep.call() == 1
        lines = (tmp_path / "checkpoints.jsonl").read_text().splitlines()
        assert [json.loads(line)["sequence"] for line in lines] == [
            trail[-1].sequence,
            trail[-1].sequence + 1,
        ]
        assert [m.to for m in mail.outbox] == [["security@centre.example"]] * 2
        assert lines[-1] in mail.outbox[-1].body
        assert checkpoints.verify(tmp_path).problem is None
    assert oct((tmp_path / "checkpoints.jsonl").stat().st_mode & 0o777) == "0o600"


def test_checkpoints_are_kept_while_the_mail_server_is_down_and_mailed_once_it_is_back(
    trail: list[AuditEvent],
    tmp_path: Path,
    case: Case,
    counsellor: Persona,
    mailbox: Mailbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from haven.web.audit.tasks import sweep

    with override_settings(
        HAVEN_AUDIT_CHECKPOINT_DIR=tmp_path, HAVEN_AUDIT_CHECKPOINT_EMAIL=["security@centre.example"]
    ):
        with override_settings(EMAIL_PORT=free_port()):  # nothing listens there
            assert sweep.call() == 1
        assert f"checkpoint #{trail[-1].sequence} not e-mailed" in caplog.text
        assert mailbox.messages == []
        actions.update_case(actor=counsellor.user, case=Case.objects.get(pk=case.pk), notes="more")
        assert sweep.call() == 1  # the mail server is back
        lines = (tmp_path / "checkpoints.jsonl").read_text().splitlines()
        assert [json.loads(line)["sequence"] for line in lines] == [
            trail[-1].sequence,
            trail[-1].sequence + 1,
        ]
        # The newest checkpoint vouches for every event before it, the unmailed one's included.
        assert len(mailbox.messages) == 1
        assert lines[-1] in mailbox.messages[0].get_content()
        assert checkpoints.verify(tmp_path).problem is None


def _legacy_link(event: AuditEvent) -> str:
    fields = json.loads(_canonical(event))
    fields.pop("key")
    return hashlib.sha256(
        json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()


@pytest.mark.parametrize("tampered", [False, True])
def test_the_migration_links_an_old_trail_under_the_key_and_records_what_it_found(
    trail: list[AuditEvent], tampered: bool
) -> None:
    import importlib

    migration = importlib.import_module("haven.web.audit.migrations.0008_keyed_chain")
    previous = _legacy_trail()
    if tampered:
        _sql("UPDATE audit_auditevent SET actor_label = %s WHERE sequence = 2", ["someone-else"])
    assert verify()[1] is not None  # not keyed: refused as it stands
    migration.link_under_the_key(apps, None)
    checked, broken = verify()
    assert broken is None
    assert checked == len(trail) + 1
    switch = AuditEvent.objects.order_by("-sequence").first()
    assert switch is not None
    assert switch.event_type == EventType.AUDIT_CHAIN_KEYED
    assert switch.summary["events"] == len(trail)
    assert switch.summary["previous_head"] == previous
    expected = "broken at #2: contents changed after it was written" if tampered else "intact"
    assert switch.summary["previous_check"] == expected
    assert {e.key_id for e in AuditEvent.objects.all()} == {keys()[0].id}


def test_one_who_holds_a_retired_key_cannot_rotate_back_to_it(trail: list[AuditEvent]) -> None:
    old_text = keys_text()
    with override_settings(HAVEN_AUDIT_KEYS=[NEW_KEY, *old_text]):
        with transaction.atomic():
            append(actor="system", event_type=EventType.LOOKUP)  # the chain moves on to the new key
        head = ChainHead.objects.get(pk=1)
        retired = keys()[1]
        forged = AuditEvent(
            sequence=head.sequence + 1,
            created_at=trail[-1].created_at,
            actor_label="system",
            event_type=EventType.AUDIT_KEY_ROTATED,
            summary={"from": current().id, "to": retired.id},
            previous_digest=head.digest,
            key_id=retired.id,
        )
        forged.digest = compute_digest(forged, retired)
        forged.save()
        ChainHead.objects.filter(pk=1).update(sequence=forged.sequence, digest=forged.digest)
        _checked, broken = verify()
    assert broken is not None
    assert broken.sequence == forged.sequence
    assert "rotates back to a retired key" in broken.reason


def test_an_event_spliced_from_another_chain_is_caught_by_its_link(trail: list[AuditEvent]) -> None:
    """Even under the right key: an event whose previous digest is not its predecessor's."""
    target = AuditEvent.objects.get(sequence=trail[2].sequence)
    target.previous_digest = "e" * 64
    target.digest = compute_digest(target, current())
    _sql(
        "UPDATE audit_auditevent SET previous_digest = %s, digest = %s WHERE id = %s",
        [target.previous_digest, target.digest, target.pk],
    )
    _checked, broken = verify()
    assert broken is not None
    assert broken.sequence == target.sequence
    assert "does not link" in broken.reason


def test_a_made_up_head_is_never_signed_and_does_not_stop_later_checkpoints(
    trail: list[AuditEvent], tmp_path: Path
) -> None:
    head = ChainHead.objects.get(pk=1)
    _sql("UPDATE audit_chainhead SET sequence = %s WHERE id = 1", [2**62])
    with pytest.raises(checkpoints.CheckpointRefused, match="not an event this server linked"):
        checkpoints.write(tmp_path)
    _sql("UPDATE audit_chainhead SET sequence = %s, digest = %s WHERE id = 1", ["1", head.digest])
    with pytest.raises(checkpoints.CheckpointRefused):
        checkpoints.write(tmp_path)  # a real event's number with another event's digest
    assert not (tmp_path / "checkpoints.jsonl").exists()
    _sql("UPDATE audit_chainhead SET sequence = %s, digest = %s WHERE id = 1", [head.sequence, head.digest])
    written = checkpoints.write(tmp_path)
    assert written is not None
    assert written.sequence == head.sequence
    assert checkpoints.verify(tmp_path).problem is None


def test_a_sweep_parked_far_ahead_does_not_stop_the_checkpoints(
    trail: list[AuditEvent], tmp_path: Path
) -> None:
    import datetime as dt

    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    from haven.web.audit.tasks import sweep

    with override_settings(HAVEN_AUDIT_CHECKPOINT_DIR=tmp_path):
        sweep.using(run_after=timezone.now() + dt.timedelta(days=3650)).enqueue()
        sweep.call()
    due = DBTaskResult.objects.filter(task_path=sweep.module_path, status="READY")
    soon = timezone.now() + dt.timedelta(minutes=11)
    assert due.filter(run_after__lte=soon).count() == 1  # the next one is queued all the same


def test_a_checkpoint_names_its_key_and_only_that_key_s_signature_counts(
    trail: list[AuditEvent], tmp_path: Path
) -> None:
    with override_settings(HAVEN_AUDIT_KEYS=[*keys_text(), NEW_KEY]):
        ours, other = keys()
        made_up = checkpoints.Checkpoint(
            trail[-1].sequence, trail[-1].digest, "2025-01-01T00:00:00+00:00", ours.id
        )
        signature = base64.urlsafe_b64encode(other.signer.sign(made_up.message())).decode()
        (tmp_path / "checkpoints.jsonl").write_text(
            json.dumps({**json.loads(made_up.message()), "signature": signature}) + "\n"
        )
        report = checkpoints.verify(tmp_path)
    assert report.problem is not None
    assert "does not carry a valid signature" in report.problem.reason


def test_events_long_after_the_latest_checkpoint_are_a_warning(
    trail: list[AuditEvent], tmp_path: Path, case: Case, counsellor: Persona
) -> None:
    checkpoints.write(tmp_path)
    actions.update_case(actor=counsellor.user, case=Case.objects.get(pk=case.pk), notes="more")
    assert "WARNING" not in _verify_text(str(tmp_path))[1]
    # Three intervals of 0.001 minutes are 0.18 s: wait past them, or a fast machine verifies
    # within them and rightly sees nothing stale.
    time.sleep(0.25)
    with override_settings(HAVEN_AUDIT_CHECKPOINT_MINUTES=0.001):
        code, text = _verify_text(str(tmp_path))
    assert code == 0
    assert "WARNING: no checkpoint since then" in text


def _legacy_trail() -> str:
    """The trail as the unkeyed scheme wrote it; returns the head digest."""
    previous = "0" * 64
    for event in AuditEvent.objects.order_by("sequence"):
        event.previous_digest, event.key_id = previous, ""
        event.digest = _legacy_link(event)
        event.save()
        previous = event.digest
    ChainHead.objects.filter(pk=1).update(digest=previous)
    return previous


def test_the_migration_keeps_a_gap_a_gap_and_says_so(
    trail: list[AuditEvent], capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib

    migration = importlib.import_module("haven.web.audit.migrations.0008_keyed_chain")
    _legacy_trail()
    _sql("DELETE FROM audit_auditevent WHERE sequence = %s", [trail[1].sequence])
    migration.link_under_the_key(apps, None)
    assert "WARNING: the audit trail was already broken at #2" in capsys.readouterr().out
    switch = AuditEvent.objects.order_by("-sequence").first()
    assert switch is not None
    assert switch.sequence == trail[-1].sequence + 1  # after the last event, not after the count
    _checked, broken = verify()
    assert broken is not None
    assert broken.sequence == trail[1].sequence  # the keyed chain still names the gap
    with transaction.atomic():
        append(actor="system", event_type=EventType.LOOKUP)  # and the trail goes on
    code, text = _verify_text()
    assert code == 1
    assert f"BROKEN at event #{trail[1].sequence}" in text


def test_the_migration_compares_the_head_digest_too(trail: list[AuditEvent]) -> None:
    import importlib

    migration = importlib.import_module("haven.web.audit.migrations.0008_keyed_chain")
    _legacy_trail()
    ChainHead.objects.filter(pk=1).update(digest="d" * 64)
    migration.link_under_the_key(apps, None)
    switch = AuditEvent.objects.order_by("-sequence").first()
    assert switch is not None
    assert switch.summary["previous_check"].startswith("broken at")
    assert verify()[1] is None
    code, text = _verify_text()
    assert code == 0
    assert "WARNING: the trail was already broken at" in text
