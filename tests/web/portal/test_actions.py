"""The portal's actions: a survivor's submission, access by number and PIN, withdrawal, deletion."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.utils import timezone

from haven.signals import Md5, PdqHash
from haven.web.accounts.models import Organisation
from haven.web.audit.chain import verify
from haven.web.audit.models import AuditEvent
from haven.web.cases.actions import current_consent
from haven.web.cases.matching import ContentIndex
from haven.web.cases.models import Case, ContentItem, IndexChange
from haven.web.core import crypto
from haven.web.core.errors import ActionError
from haven.web.portal import actions
from haven.web.portal.actions import PortalLocked
from haven.web.portal.models import PortalAccess

from .conftest import MD5, PDQ, PDQ2, item

pytestmark = pytest.mark.django_db

ALL_YES = {"monitor": True, "takedown": True, "share": False, "contact": True}


def _submit(org: Organisation, **kwargs: object) -> tuple[Case, str, str]:
    options: dict[str, object] = {"items": [item(), item(PDQ2)], "consents": ALL_YES, **kwargs}
    return actions.submit_hashes(organisation=org, **options)  # type: ignore[arg-type]


def _hits(org: Organisation) -> set[int]:
    return {
        h.item_id for h in ContentIndex().lookup(org.pk, pdq=[PdqHash.from_hex(PDQ)], md5=[Md5.from_hex(MD5)])
    }


def test_a_submission_creates_an_intake_case_with_labelled_items_and_portal_consent(
    org_a: Organisation,
) -> None:
    case, number, pin = _submit(org_a, contact="Text only, after 6 pm")
    assert case.number == number
    assert number.startswith("HV-")
    assert case.status == "intake"
    assert case.created_by is None
    assert case.organisation == org_a
    assert [i.label for i in case.content.all()] == ["photo 1", "photo 2"]
    assert current_consent(case) == {**dict.fromkeys(current_consent(case), False), **ALL_YES}
    assert set(case.consents.values_list("method", flat=True)) == {"portal"}
    assert IndexChange.objects.filter(content_item__case=case, op="add").count() == 2
    assert len(pin) == 8
    assert pin.isdigit()
    assert crypto.decrypt(case.contact_encrypted, "cases.Case.contact") == "Text only, after 6 pm"


def test_the_pin_is_kept_only_as_an_argon2_hash(org_a: Organisation) -> None:
    case, _number, pin = _submit(org_a)
    stored = PortalAccess.objects.get(case=case).pin_hash
    assert stored.startswith("argon2$")
    assert pin not in stored


def test_a_submission_appends_one_audit_event_without_hashes_or_contact(org_a: Organisation) -> None:
    _submit(org_a, contact="010-1234-5678")
    (event,) = AuditEvent.objects.all()
    assert event.actor_label == "portal"
    assert event.event_type == "case.created"
    text = str(event.summary)
    assert PDQ not in text
    assert MD5 not in text
    assert "010" not in text
    assert verify()[1] is None


def test_submitted_hashes_match_at_once_when_monitoring_is_consented(org_a: Organisation) -> None:
    case, _, _ = _submit(org_a)
    assert _hits(org_a) == set(case.content.values_list("pk", flat=True))


def test_without_monitoring_consent_nothing_enters_the_index(org_a: Organisation) -> None:
    _submit(org_a, consents={"monitor": False})
    assert not IndexChange.objects.exists()
    assert _hits(org_a) == set()


@pytest.mark.parametrize(
    ("items", "consents"),
    [
        ([], {}),
        ([item()] * 21, {}),
        ([item(pdq="xyz")], {}),
        ([item(pdq="", md5="", sha256="")], {}),
        ([item(md5="9e107d9d372bb6826bd81d3542a419d")], {}),
        (["f8f8"], {}),
        ([item(quality="90")], {}),
        ([item(quality=101)], {}),
        ([item(dihedral=[PDQ])], {}),
        ([item()], {"police": True}),
        ([item()], {"monitor": "yes"}),
        ("not a list", {}),
    ],
)
def test_bad_input_is_refused_and_nothing_is_created(
    org_a: Organisation, items: object, consents: object
) -> None:
    with pytest.raises(ActionError):
        actions.submit_hashes(organisation=org_a, items=items, consents=consents)
    assert not Case.objects.exists()
    assert not ContentItem.objects.exists()
    assert not AuditEvent.objects.exists()


def test_contact_with_nul_characters_is_refused(org_a: Organisation) -> None:
    with pytest.raises(ActionError):
        _submit(org_a, contact="call\x00me")
    assert not Case.objects.exists()


def test_the_right_pin_opens_the_case(org_a: Organisation) -> None:
    case, number, pin = _submit(org_a)
    assert actions.check_access(case_number=number, pin=pin, client="a") == case
    assert actions.check_access(case_number=number.lower().replace("-", " "), pin=pin, client="a") == case
    assert actions.check_access(case_number=number, pin="00000000", client="a") is None


def test_five_wrong_pins_lock_the_case_number_with_growing_back_off(org_a: Organisation) -> None:
    case, number, pin = _submit(org_a)
    wrong = "1" if pin[0] != "1" else "2"
    for _ in range(4):
        assert actions.check_access(case_number=number, pin=wrong * 8, client="a") is None
    assert actions.check_access(case_number=number, pin=wrong * 8, client="b") is None
    with pytest.raises(PortalLocked) as first:
        actions.check_access(case_number=number, pin=pin, client="c")  # even the right PIN waits
    assert 50 <= first.value.retry_after <= 61
    access = PortalAccess.objects.get(case=case)
    access.locked_until = timezone.now() - dt.timedelta(seconds=1)
    access.save()
    assert actions.check_access(case_number=number, pin=wrong * 8, client="d") is None
    with pytest.raises(PortalLocked) as second:
        actions.check_access(case_number=number, pin=pin, client="e")
    assert 110 <= second.value.retry_after <= 121


def test_the_back_off_stops_at_a_day() -> None:
    assert actions._lock_for(4) == dt.timedelta(0)
    assert actions._lock_for(5) == dt.timedelta(minutes=1)
    assert actions._lock_for(7) == dt.timedelta(minutes=4)
    assert actions._lock_for(50) == dt.timedelta(hours=24)


def test_an_unknown_case_number_locks_just_like_a_real_one(db: None) -> None:
    for _ in range(5):
        assert actions.check_access(case_number="HV-ABCD-EFGH", pin="12345678", client="a") is None
    with pytest.raises(PortalLocked) as locked:
        actions.check_access(case_number="HV-ABCD-EFGH", pin="12345678", client="b")
    assert 50 <= locked.value.retry_after <= 61


def test_one_client_is_limited_across_case_numbers(db: None) -> None:
    for n in range(actions.CLIENT_LIMIT):
        actions.check_access(case_number=f"HV-AAAA-AA{n:02d}", pin="1", client="10.0.0.1")
    with pytest.raises(PortalLocked):
        actions.check_access(case_number="HV-BBBB-BBBB", pin="1", client="10.0.0.1")
    assert actions.check_access(case_number="HV-BBBB-BBBB", pin="1", client="10.0.0.2") is None


def test_withdrawal_removes_the_hashes_from_the_index_at_once(org_a: Organisation) -> None:
    case, _, _ = _submit(org_a)
    index = ContentIndex()
    assert index.lookup(org_a.pk, pdq=[PdqHash.from_hex(PDQ)])
    assert actions.withdraw(case=case) == ["monitor", "takedown", "contact"]
    assert index.lookup(org_a.pk, pdq=[PdqHash.from_hex(PDQ)]) == []
    assert not any(current_consent(case).values())
    event = AuditEvent.objects.last()
    assert event is not None
    assert event.event_type == "consent.withdrawn"
    assert event.actor_label == "portal"


def test_delete_my_data_blanks_the_hashes_and_the_contact(org_a: Organisation) -> None:
    case, _number, _pin = _submit(org_a, contact="Text only")
    actions.delete_my_data(case=case)
    case.refresh_from_db()
    assert case.contact_encrypted is None
    for content in case.content.all():
        assert content.removed_at is not None
        assert (content.pdq, content.md5, content.sha256, content.pdq_dihedral) == ("", "", "", [])
    assert _hits(org_a) == set()
    assert not any(current_consent(case).values())
    assert Case.objects.filter(pk=case.pk).exists()
    assert actions.is_deleted(case)
    assert verify()[1] is None


def test_malformed_case_numbers_never_lock_anyone_out(org_a: Organisation) -> None:
    case, number, pin = _submit(org_a)
    for n in range(10):
        assert actions.check_access(case_number="HV-12", pin="1", client=f"c{n}") is None
    assert actions.check_access(case_number=number, pin=pin, client="x") == case


def test_a_survivor_who_agrees_to_shared_figures_is_counted_in_them_and_one_who_does_not_is_not(
    org_a: Organisation,
) -> None:
    from haven.web.reports.disclosure import Rules
    from haven.web.reports.periods import Period
    from haven.web.reports.standard import gbvims_cubes

    counted, _n, _pin = _submit(org_a, consents={**ALL_YES, "statistics": True})
    _submit(org_a, consents=ALL_YES)  # not asked to be counted: left out
    assert current_consent(counted)["statistics"] is True
    year = counted.created_at.astimezone(zoneinfo.ZoneInfo(org_a.time_zone)).year
    cube = gbvims_cubes(org_a, year, Rules(threshold=1)).incidents
    assert cube.count(Period(year)) == 1
    # Withdrawing in the portal withdraws it too.
    actions.withdraw(case=counted)
    cube = gbvims_cubes(org_a, year, Rules(threshold=1)).incidents
    assert cube.count(Period(year)) == 0
