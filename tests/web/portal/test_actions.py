"""The portal's actions: a survivor's submission, access by number and PIN, withdrawal, deletion."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.utils import timezone

from haven.signals import Md5, PdqHash
from haven.web.accounts.models import Organisation, User
from haven.web.audit.chain import verify
from haven.web.audit.models import AuditEvent
from haven.web.cases.actions import current_consent
from haven.web.cases.matching import ContentIndex
from haven.web.cases.models import Case, ContentItem, IndexChange
from haven.web.core import crypto
from haven.web.core.errors import ActionError
from haven.web.portal import actions
from haven.web.portal.actions import PortalLocked
from haven.web.portal.models import PortalAccess, PortalNetworkLock

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


def test_five_wrong_pins_lock_the_case_number_for_that_network_with_growing_back_off(
    org_a: Organisation,
) -> None:
    case, number, pin = _submit(org_a)
    wrong = "1" if pin[0] != "1" else "2"
    for n in range(5):  # from one network: two addresses of the same /24
        assert actions.check_access(case_number=number, pin=wrong * 8, client=f"203.0.113.{n % 2}") is None
    with pytest.raises(PortalLocked) as first:
        actions.check_access(case_number=number, pin=pin, client="203.0.113.7")  # even the right PIN waits
    assert 50 <= first.value.retry_after <= 61
    lock = PortalNetworkLock.objects.get(access__case=case, known=False)
    lock.locked_until = timezone.now() - dt.timedelta(seconds=1)
    lock.save()
    assert actions.check_access(case_number=number, pin=wrong * 8, client="203.0.113.9") is None
    with pytest.raises(PortalLocked) as second:
        actions.check_access(case_number=number, pin=pin, client="203.0.113.9")
    assert 110 <= second.value.retry_after <= 121
    # Her own network is not his: she gets in.
    assert actions.check_access(case_number=number, pin=pin, client="198.51.100.20") == case
    # No address is kept, only a keyed hash of the network.
    assert all("203.0.113" not in row.network for row in PortalNetworkLock.objects.all())


def test_someone_who_saw_her_case_number_cannot_keep_her_out(org_a: Organisation) -> None:
    """He fails from many networks until every unknown network waits; hers, where she once got in,
    does not; and the centre can unlock the rest, or give her a new PIN."""
    case, number, pin = _submit(org_a)
    wrong = "1" if pin[0] != "1" else "2"
    home = "198.51.100.20"
    assert actions.check_access(case_number=number, pin=pin, client=home) == case
    for n in range(actions.CASE_LOCK_AFTER):
        assert actions.check_access(case_number=number, pin=wrong * 8, client=f"10.{n}.0.1") is None
    with pytest.raises(PortalLocked):  # a new network (hers from a café, say) waits...
        actions.check_access(case_number=number, pin=pin, client="192.0.2.1")
    assert actions.check_access(case_number=number, pin=pin, client=home) == case  # ...her home does not
    for n in range(actions.CASE_LOCK_AFTER):
        actions.check_access(case_number=number, pin=wrong * 8, client=f"10.{n}.1.1")
    with pytest.raises(PortalLocked):
        actions.check_access(case_number=number, pin=pin, client="192.0.2.1")
    counsellor = User.objects.create_user(username="c", organisation=org_a, role="counsellor")
    assert actions.unlock(actor=counsellor, case=case) is None
    assert actions.check_access(case_number=number, pin=pin, client="192.0.2.1") == case
    fresh = actions.unlock(actor=counsellor, case=case, replace_pin=True)
    assert fresh is not None
    assert len(fresh) == 8
    assert fresh.isdigit()
    assert actions.check_access(case_number=number, pin=pin, client=home) is None  # the old PIN is gone
    assert actions.check_access(case_number=number, pin=fresh, client=home) == case
    events = list(
        AuditEvent.objects.filter(event_type__startswith="portal.").values_list("event_type", "summary")
    )
    assert events == [("portal.unlocked", {"case": number}), ("portal.pin_reset", {"case": number})]


def test_guessing_from_ever_new_networks_stays_hopeless(
    org_a: Organisation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A day of guessing as fast as the locks allow, from a new network every time: how many PINs
    can be tried?  (The PIN has 10^8 values.)"""
    _case, number, pin = _submit(org_a)
    wrong = "1" if pin[0] != "1" else "2"
    start = timezone.now()
    clock = [start]

    class Clock:
        @staticmethod
        def now() -> dt.datetime:
            return clock[0]

    monkeypatch.setattr(actions, "timezone", Clock)
    tried = attempt = 0
    while clock[0] < start + dt.timedelta(days=1):
        attempt += 1
        try:
            actions.check_access(
                case_number=number, pin=wrong * 8, client=f"10.{attempt // 256 % 256}.{attempt % 256}.1"
            )
        except PortalLocked as locked:
            clock[0] += dt.timedelta(seconds=locked.retry_after)
        else:
            tried += 1
    print(f"PINs tried in a day from {attempt} networks: {tried}")
    assert tried <= actions.CASE_LOCK_AFTER + 12  # 30, then a back-off doubling to a day
    assert tried >= actions.CASE_LOCK_AFTER


def test_the_back_off_stops_at_a_day() -> None:
    assert actions._lock_for(4) == dt.timedelta(0)
    assert actions._lock_for(5) == dt.timedelta(minutes=1)
    assert actions._lock_for(7) == dt.timedelta(minutes=4)
    assert actions._lock_for(50) == dt.timedelta(hours=24)


def test_an_unknown_case_number_locks_just_like_a_real_one(org_a: Organisation) -> None:
    """Per network, then for every network: whether a number exists is never told by its locks."""
    _case, real, _pin = _submit(org_a)
    for number in (real, "HV-ABCD-EFGH"):
        for n in range(5):
            assert actions.check_access(case_number=number, pin="1" * 8, client=f"203.0.113.{n}") is None
        with pytest.raises(PortalLocked) as locked:
            actions.check_access(case_number=number, pin="1" * 8, client="203.0.113.9")
        assert 50 <= locked.value.retry_after <= 61
        assert actions.check_access(case_number=number, pin="1" * 8, client="198.51.100.1") is None
        for n in range(actions.CASE_LOCK_AFTER - 6):
            actions.check_access(case_number=number, pin="1" * 8, client=f"10.{n}.0.1")
        with pytest.raises(PortalLocked) as everywhere:
            actions.check_access(case_number=number, pin="1" * 8, client="192.0.2.1")
        assert 50 <= everywhere.value.retry_after <= 61


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
