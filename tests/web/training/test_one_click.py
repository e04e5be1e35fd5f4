"""A real centre's administrator makes a training sandbox in one click, adds trainees (a password
shown once), sees their progress and resets it; nobody else can touch that sandbox."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.backends import ModelBackend
from django.test import Client
from django.urls import reverse

from haven.web.accounts.models import Organisation, User
from haven.web.audit.models import AuditEvent, EventType
from haven.web.cases.models import Case
from haven.web.core.errors import ActionError, NotFound
from haven.web.training import actions, sandbox
from tests.web.accounts.twofactor import signed_in
from tests.web.conftest import Persona

pytestmark = pytest.mark.django_db


def _make(client: Client) -> Organisation:
    assert client.post(reverse("training:sandboxes"), {"name": ""}).status_code == 302
    return Organisation.objects.filter(sandbox=True).latest("pk")


def test_an_administrator_makes_a_sandbox_in_one_click(admin: Persona, org_a: Organisation) -> None:
    client = signed_in(admin.user)
    made = _make(client)
    assert made.training_for == org_a
    assert (made.country, made.time_zone) == (org_a.country, org_a.time_zone)
    assert made.slug == "centre-a-training-1"
    assert Case.objects.filter(organisation=made).count() == sandbox.SYNTHETIC_CASES
    page = client.get(reverse("training:sandboxes")).content.decode()
    assert made.name in page
    assert _make(client).slug == "centre-a-training-2"


def test_a_trainee_gets_a_password_shown_once_that_works(admin: Persona, org_a: Organisation) -> None:
    client = signed_in(admin.user)
    made = _make(client)
    answer = client.post(
        reverse("training:add_trainee", args=[made.pk]), {"username": "newbie", "role": "counsellor"}
    )
    assert answer.status_code == 200
    assert "no-store" in answer["Cache-Control"]
    password = re.search(r'<dd class="secret">([^<]+)</dd>', answer.content.decode())
    assert password is not None
    trainee = User.objects.get(username="newbie")
    assert trainee.organisation == made
    assert trainee.check_password(password.group(1))
    assert password.group(1) not in client.get(reverse("training:sandboxes")).content.decode()  # once
    created = AuditEvent.objects.filter(event_type=EventType.USER_CREATED, actor=admin.user)
    assert created.exists()
    # Her progress shows on the centre's page.
    actions.check_exercise(actor=trainee, code="hashing")
    page = client.get(reverse("training:sandboxes")).content.decode()
    assert '<th scope="row">newbie</th>' in page
    assert "1 step missing" in page


def test_bad_trainees_are_refused_and_change_nothing(admin: Persona) -> None:
    made = actions.new_sandbox(actor=admin.user)
    before = User.objects.count()
    actions.add_trainee(actor=admin.user, sandbox=made, username="taken", role="counsellor")
    before = User.objects.count()
    cases = [
        ("", "counsellor"),
        ("x y", "counsellor"),
        ("ok", "emperor"),
        ("taken", "counsellor"),
        ("a" * 151, "admin"),
    ]
    for username, role in cases:
        with pytest.raises(ActionError):
            actions.add_trainee(actor=admin.user, sandbox=made, username=username, role=role)
    assert User.objects.count() == before


def test_another_centre_cannot_touch_our_sandbox(
    admin: Persona, outsider: Persona, org_b: Organisation
) -> None:
    made = actions.new_sandbox(actor=admin.user)
    outsider.user.role = "admin"
    outsider.user.save()
    client = signed_in(outsider.user)
    assert made.name not in client.get(reverse("training:sandboxes")).content.decode()
    before = User.objects.count()
    assert (
        client.post(
            reverse("training:add_trainee", args=[made.pk]), {"username": "spy", "role": "admin"}
        ).status_code
        == 404
    )
    assert client.post(reverse("training:reset", args=[made.pk])).status_code == 404
    assert User.objects.count() == before
    with pytest.raises(NotFound):
        actions.add_trainee(actor=outsider.user, sandbox=made, username="spy", role="admin")
    # Nor can a real centre be treated as a sandbox.
    with pytest.raises(NotFound):
        actions.reset_sandbox(actor=admin.user, sandbox=admin.user.organisation)  # type: ignore[arg-type]


def test_only_administrators_of_a_real_centre_manage_sandboxes(counsellor: Persona, admin: Persona) -> None:
    assert signed_in(counsellor.user).get(reverse("training:sandboxes")).status_code == 403
    made = actions.new_sandbox(actor=admin.user)
    inner, _password = actions.add_trainee(actor=admin.user, sandbox=made, username="inner", role="admin")
    # A sandbox's own administrator cannot make sandboxes from inside one.
    assert signed_in(inner).get(reverse("training:sandboxes")).status_code == 404
    with pytest.raises(ActionError, match="from a real centre"):
        actions.new_sandbox(actor=inner)


def test_resetting_from_the_centre_page(admin: Persona) -> None:
    client = signed_in(admin.user)
    made = _make(client)
    first = set(Case.objects.filter(organisation=made).values_list("pk", flat=True))
    assert client.post(reverse("training:reset", args=[made.pk])).status_code == 302
    after = set(Case.objects.filter(organisation=made).values_list("pk", flat=True))
    assert len(after) == sandbox.SYNTHETIC_CASES
    assert not first & after
    assert AuditEvent.objects.filter(event_type=EventType.SANDBOX_RESET, actor=admin.user).exists()


def test_a_long_centre_name_still_gives_distinct_sandboxes(admin: Persona, org_a: Organisation) -> None:
    Organisation.objects.filter(pk=org_a.pk).update(slug="a" * 50)
    admin.user.refresh_from_db()
    first = actions.new_sandbox(actor=admin.user)
    second = actions.new_sandbox(actor=admin.user)
    assert first.slug != second.slug
    assert len(second.slug) <= 50
    assert first.slug != "a" * 50


def test_what_a_centre_does_to_its_sandboxes_is_on_its_own_trail(admin: Persona, org_a: Organisation) -> None:
    made = actions.new_sandbox(actor=admin.user)
    actions.add_trainee(actor=admin.user, sandbox=made, username="learner", role="counsellor")
    actions.reset_sandbox(actor=admin.user, sandbox=made)
    ours = AuditEvent.objects.filter(organisation=org_a, event_type=EventType.SANDBOX_MANAGED)
    assert [e.summary["did"] for e in ours.order_by("sequence")] == ["created", "trainee_added", "reset"]
    assert ours.filter(summary__username="learner").exists()


def test_a_sandbox_has_no_public_awareness_pages(admin: Persona) -> None:
    made = actions.new_sandbox(actor=admin.user)
    assert Client().get(reverse("learn:index", args=[made.slug])).status_code == 404
    assert Client().get(reverse("learn:page", args=[made.slug, "how-the-centre-helps"])).status_code == 404


def test_a_trainee_access_ends_with_one_click_and_only_there(
    admin: Persona, outsider: Persona, org_a: Organisation
) -> None:
    made = actions.new_sandbox(actor=admin.user)
    trainee, password = actions.add_trainee(
        actor=admin.user, sandbox=made, username="leaver", role="counsellor"
    )
    other = actions.new_sandbox(actor=admin.user)
    elsewhere, _pw = actions.add_trainee(actor=admin.user, sandbox=other, username="stays", role="counsellor")
    client = signed_in(admin.user)
    # The wrong sandbox, the synthetic account, a real colleague: 404, nothing changes.
    synthetic = sandbox.synthetic_actor(made)
    for sandbox_id, user_id in ((made.pk, elsewhere.pk), (made.pk, synthetic.pk), (made.pk, admin.user.pk)):
        url = reverse("training:remove_trainee", args=[sandbox_id, user_id])
        assert client.post(url).status_code == 404
    outsider.user.role = "admin"
    outsider.user.save()
    url = reverse("training:remove_trainee", args=[made.pk, trainee.pk])
    assert signed_in(outsider.user).post(url).status_code == 404
    assert User.objects.filter(is_active=True, pk__in=[trainee.pk, elsewhere.pk, synthetic.pk]).count() == 3
    assert trainee.check_password(password)
    assert ModelBackend().user_can_authenticate(trainee)
    session = signed_in(trainee)
    assert session.get(reverse("training:exercises")).status_code == 200

    assert client.post(url).status_code == 302
    trainee.refresh_from_db()
    assert not trainee.is_active
    assert not ModelBackend().user_can_authenticate(trainee)  # sign-in refuses inactive accounts
    assert session.get(reverse("training:exercises")).status_code == 302  # her open session ends too
    assert '<th scope="row">leaver</th>' not in client.get(reverse("training:sandboxes")).content.decode()
    trail = AuditEvent.objects.filter(organisation=org_a, event_type=EventType.SANDBOX_MANAGED)
    assert trail.filter(summary__did="trainee_removed", summary__username="leaver").exists()
