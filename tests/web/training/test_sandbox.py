"""Training sandboxes: made with synthetic cases, marked for life (the database refuses a change),
kept apart from survivors, partners and peers, their mail kept in a mailbox, and reset to a fresh
state without touching a real centre's rows."""

from __future__ import annotations

import io
import sys

import pytest
from django.db import DatabaseError, transaction
from django.test import Client
from django.urls import reverse

from haven.cli import main
from haven.signals import PdqHash, pdq_hash
from haven.web.accounts.actions import create_user
from haven.web.accounts.models import Organisation, User
from haven.web.accounts.roles import Role
from haven.web.audit.chain import verify
from haven.web.audit.models import AuditEvent, EventType
from haven.web.awareness import actions as awareness
from haven.web.cases import actions as case_actions
from haven.web.cases.matching import content_index
from haven.web.cases.models import Case, ContentItem, IndexChange
from haven.web.core.errors import ActionError
from haven.web.core.practice import original
from haven.web.federation.actions import add_peer
from haven.web.sharing.actions import create_partner
from haven.web.training import sandbox
from haven.web.training.models import SandboxMail
from tests.web.accounts.twofactor import signed_in
from tests.web.conftest import Persona

pytestmark = pytest.mark.django_db


@pytest.fixture
def practice(db: None) -> Organisation:
    return sandbox.create_sandbox(actor="test", name="Practice Centre", slug="practice", country="KR")


@pytest.fixture
def trainee(practice: Organisation) -> User:
    return create_user(
        actor="test",
        username="trainee",
        organisation=practice,
        role=Role.COUNSELLOR,
        password="a long passphrase for training",
    )


def test_a_sandbox_is_made_with_synthetic_cases_and_services(practice: Organisation) -> None:
    assert practice.sandbox
    cases = Case.objects.filter(organisation=practice)
    assert cases.count() == sandbox.SYNTHETIC_CASES
    items = ContentItem.objects.filter(organisation=practice)
    assert items.count() >= sandbox.SYNTHETIC_CASES + 4
    # Two cases hold the practice forum's pictures, so monitoring that forum has something to find.
    practice_hashes = {str(pdq_hash(original(n)).hash) for n in range(1, 7)}
    assert practice_hashes <= set(items.values_list("pdq", flat=True))
    assert practice.services.count() == 3
    created = AuditEvent.objects.get(event_type=EventType.ORGANISATION_CREATED, organisation=practice)
    assert created.summary == {"sandbox": True}
    # The account that wrote them cannot sign in.
    assert not sandbox.synthetic_actor(practice).has_usable_password()


@pytest.mark.parametrize("to", [False, True])
def test_the_database_refuses_to_turn_a_sandbox_real_or_a_centre_into_a_sandbox(
    practice: Organisation, org_a: Organisation, to: bool
) -> None:
    org = practice if not to else org_a
    with pytest.raises(DatabaseError), transaction.atomic():
        Organisation.objects.filter(pk=org.pk).update(sandbox=to)  # a bulk update skips save()
    org.sandbox = to
    with pytest.raises(DatabaseError), transaction.atomic():
        org.save()
    org.refresh_from_db()
    assert org.sandbox is (not to)


def test_the_portal_and_the_awareness_pages_never_offer_a_sandbox(
    practice: Organisation, org_a: Organisation
) -> None:
    client = Client()
    for url in ("/portal/", "/portal/submit/", reverse("learn:centres")):
        html = client.get(url).content.decode()
        assert "Practice Centre" not in html, url
    # Naming it anyway gets the same refusal as an unknown centre, and creates nothing.
    before = Case.objects.count()
    response = client.post(
        "/portal/api/submit/",
        data={"organisation": practice.pk, "items": [{"pdq": "f" * 64, "quality": 90}], "consents": {}},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert Case.objects.count() == before


def test_a_sandbox_cannot_have_partners_or_peers(practice: Organisation) -> None:
    with pytest.raises(ActionError, match="cannot have partners"):
        create_partner(actor="test", organisation=practice, name="Real platform", kind="platform")
    with pytest.raises(ActionError, match="cannot have peers"):
        add_peer(actor="test", organisation=practice, name="Real centre", url="https://c.example", keys={})


def test_every_page_of_a_sandbox_says_so_and_a_real_centre_has_no_mailbox(
    trainee: User, counsellor: Persona
) -> None:
    page = signed_in(trainee).get(reverse("cases:dashboard")).content.decode()
    assert 'class="sandbox-banner"' in page
    assert signed_in(trainee).get(reverse("training:mailbox")).status_code == 200
    real = signed_in(counsellor.user)
    assert 'class="sandbox-banner"' not in real.get(reverse("cases:dashboard")).content.decode()
    assert real.get(reverse("training:mailbox")).status_code == 404


def test_a_reset_refuses_a_real_centre_and_deletes_nothing(
    org_a: Organisation, case: Case, counsellor: Persona
) -> None:
    case_actions.add_content(
        actor=counsellor.user, case=case, items=[case_actions.HashInput(label="p", pdq="f" * 64, quality=90)]
    )
    changes = IndexChange.objects.count()
    with pytest.raises(ActionError, match="not a training sandbox"):
        sandbox.reset(actor="test", organisation=org_a)
    assert Case.objects.filter(pk=case.pk).exists()
    assert ContentItem.objects.filter(organisation=org_a).count() == 1
    assert IndexChange.objects.count() == changes
    assert not AuditEvent.objects.filter(event_type=EventType.SANDBOX_RESET).exists()


def test_a_reset_brings_the_sandbox_back_and_leaves_real_centres_alone(
    practice: Organisation, trainee: User, case: Case, org_a: Organisation
) -> None:
    # A trainee's work: a case of her own, a published page, a mail in the mailbox.
    mine = case_actions.create_case(actor=trainee, contact="(synthetic) trainee's case")
    old_items = list(ContentItem.objects.filter(organisation=practice).values_list("pk", "pdq"))
    SandboxMail.objects.create(
        organisation=practice, kind="notice", sender="a", recipients="b", subject="s", body="b"
    )
    admin = create_user(
        actor="test",
        username="trainer",
        organisation=practice,
        role=Role.ADMIN,
        password="a long passphrase 1",
    )
    awareness.save_page(actor=admin, topic="how-the-centre-helps", language="en", title="T", body="ours")
    real_rows = (
        Case.objects.filter(organisation=org_a).count(),
        ContentItem.objects.filter(organisation=org_a).count(),
    )
    lookup = PdqHash.from_hex(old_items[0][1])
    assert content_index().lookup(practice.pk, pdq=[lookup], radius=0)  # the practice case is in the index

    deleted = sandbox.reset(actor="test", organisation=practice)

    assert deleted["cases.Case"] == sandbox.SYNTHETIC_CASES + 1
    assert not Case.objects.filter(pk=mine.pk).exists()
    assert not SandboxMail.objects.filter(organisation=practice).exists()
    assert not practice.awareness_revisions.exists()
    assert Case.objects.filter(organisation=practice).count() == sandbox.SYNTHETIC_CASES  # seeded again
    assert User.objects.filter(pk__in=[trainee.pk, admin.pk]).count() == 2  # staff stay
    assert (
        Case.objects.filter(organisation=org_a).count(),
        ContentItem.objects.filter(organisation=org_a).count(),
    ) == real_rows
    # Every process's index hears that the old items went, though their rows are gone.
    removed = set(IndexChange.objects.filter(op="remove").values_list("content_item_id", flat=True))
    assert {pk for pk, _ in old_items} <= removed
    hits = content_index().lookup(practice.pk, pdq=[lookup], radius=0)
    assert hits
    assert not {h.item_id for h in hits} & {pk for pk, _ in old_items}
    # The audit trail keeps every earlier event and records the reset; the chain is whole.
    event = AuditEvent.objects.get(event_type=EventType.SANDBOX_RESET)
    assert event.summary["deleted"]["cases.Case"] == sandbox.SYNTHETIC_CASES + 1
    assert AuditEvent.objects.filter(event_type=EventType.CASE_CREATED, organisation=practice).count() > 6
    assert verify() == (AuditEvent.objects.count(), None)


def test_sandboxes_are_made_and_reset_from_the_command_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, org_a: Organisation
) -> None:
    argv = ["createorg", "drill", "--name", "Drill", "--country", "GB", "--time-zone", "Europe/London"]
    assert main([*argv, "--sandbox"]) == 0
    assert "training sandbox drill" in capsys.readouterr().out
    assert Organisation.objects.get(slug="drill").sandbox
    monkeypatch.setattr(sys, "stdin", io.StringIO("a long enough passphrase 42\n"))
    assert main(["createuser", "learner", "--org", "drill", "--role", "counsellor", "--password-stdin"]) == 0
    assert main(["sandbox", "reset", "drill"]) == 0
    assert "reset training sandbox drill" in capsys.readouterr().out
    assert User.objects.filter(username="learner").exists()
    assert main(["sandbox", "reset", org_a.slug]) == 1
    assert "not a training sandbox" in capsys.readouterr().err
    assert main(["sandbox", "reset", "nowhere"]) == 1
