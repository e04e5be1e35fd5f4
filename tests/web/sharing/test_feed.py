"""The shared feed: what goes in, in what order, and how withdrawal reaches partners."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import dacite
import pytest
from django.utils import timezone
from threatexchange.exchanges.clients.stopncii.api import FetchHashesResponse, StopNCIIHashRecord

from haven.web.cases import actions as cases
from haven.web.cases.models import Case, ContentItem
from haven.web.core.errors import ActionError
from haven.web.portal import actions as portal
from haven.web.sharing import actions
from haven.web.sharing.models import FeedHead, SharedItem
from tests.web.conftest import Persona

from .conftest import PartnerClient, add_photos

PYTX = dacite.Config(cast=[__import__("enum").Enum, set], strict=True)


def _pdqs(case: Case) -> set[str]:
    return set(ContentItem.objects.filter(case=case, removed_at__isnull=True).values_list("pdq", flat=True))


def test_approved_photos_of_a_consenting_case_are_in_the_feed(
    shared_case: Case, platform: PartnerClient
) -> None:
    records, _ = platform.fetch_all()
    assert {r["hashValue"] for r in records} == _pdqs(shared_case)
    assert {r["signalType"] for r in records} == {"ImagePDQ"}
    assert {r["hashStatus"] for r in records} == {"Active"}


def test_every_record_parses_with_pytx_own_dataclasses(shared_case: Case, platform: PartnerClient) -> None:
    # pytx drops a record whose spelling differs (an enum value, a missing caseNumbers) with only a
    # log line; strict dacite with its own classes fails on any such difference instead.
    page = platform.fetch(startTimestamp=10, pageSize=800).json()
    response = dacite.from_dict(FetchHashesResponse, {**page, "hashRecords": []}, config=PYTX)
    records = [dacite.from_dict(StopNCIIHashRecord, r, config=PYTX) for r in page["hashRecords"]]
    assert response.count == len(records) == 2
    assert all(r.caseNumbers and r.hashStatus.value == "Active" for r in records)


def test_the_case_number_never_leaves_the_centre(shared_case: Case, make_partner: Callable[..., Any]) -> None:
    first, second = make_partner("First"), make_partner("Second")
    body_first = first.fetch().content.decode() + first.get("/api/sharing/v1/feed").content.decode()
    body_second = second.fetch().content.decode()
    assert shared_case.number not in body_first
    assert shared_case.number not in body_second
    ref_first = next(iter(first.fetch().json()["hashRecords"][0]["caseNumbers"]))
    ref_second = next(iter(second.fetch().json()["hashRecords"][0]["caseNumbers"]))
    assert ref_first != ref_second, "two partners must not be able to tell they hold the same case"
    assert ref_first.startswith("hvc-")


def test_nothing_is_shared_without_share_consent(
    counsellor: Persona, case: Case, platform: PartnerClient
) -> None:
    add_photos(counsellor, case, 1)
    with pytest.raises(ActionError, match="not agreed"):
        actions.approve_case(actor=counsellor.user, case=case)
    assert platform.fetch().json()["hashRecords"] == []


def test_nothing_is_shared_before_review(counsellor: Persona, case: Case, platform: PartnerClient) -> None:
    cases.record_consent(actor=counsellor.user, case=case, scope="share", granted=True, method="phone")
    add_photos(counsellor, case, 2)
    assert platform.fetch().json()["hashRecords"] == []
    assert platform.get("/api/sharing/v1/feed").json()["records"] == []


def test_weak_hashes_are_never_shared(counsellor: Persona, case: Case, platform: PartnerClient) -> None:
    cases.record_consent(actor=counsellor.user, case=case, scope="share", granted=True, method="phone")
    strong = add_photos(counsellor, case, 1, quality=50)
    weak = add_photos(counsellor, case, 1, quality=49)
    result = actions.approve_items(actor=counsellor.user, case=case)
    assert result.approved == 1
    assert [label for label, _reason in result.skipped] == [weak[0].label]
    with pytest.raises(ActionError, match="too weak"):
        actions.approve_items(actor=counsellor.user, case=case, item_ids=[weak[0].pk])
    assert [r["hashValue"] for r in platform.fetch().json()["hashRecords"]] == [strong[0].pdq]


def test_a_weak_crop_signal_is_left_out_of_the_native_feed(
    counsellor: Persona, case: Case, platform: PartnerClient
) -> None:
    cases.record_consent(actor=counsellor.user, case=case, scope="share", granted=True, method="phone")
    item = cases.HashInput(
        label="photo",
        pdq="a" * 64,
        quality=90,
        extra=[
            {"kind": "centre80", "pdq": "b" * 64, "quality": 80},
            {"kind": "top50", "pdq": "c" * 64, "quality": 20},
        ],
    )
    cases.add_content(actor=counsellor.user, case=case, items=[item])
    actions.approve_case(actor=counsellor.user, case=case)
    (record,) = platform.get("/api/sharing/v1/feed").json()["records"]
    assert record["signals"] == [
        {"type": "pdq", "value": "a" * 64, "quality": 90, "crop": "whole"},
        {"type": "pdq", "value": "b" * 64, "quality": 80, "crop": "centre80"},
    ]


def test_a_video_is_shared_by_md5_and_by_its_strong_frames(
    counsellor: Persona, case: Case, platform: PartnerClient
) -> None:
    cases.record_consent(actor=counsellor.user, case=case, scope="share", granted=True, method="phone")
    frames = [(0, 90, "d" * 64, 0.0), (30, 10, "e" * 64, 1.0), (60, 70, "f" * 64, 2.0)]
    video = cases.HashInput(label="clip", kind="video", md5="1" * 32, video_frames=tuple(frames))
    cases.add_content(actor=counsellor.user, case=case, items=[video])
    actions.approve_case(actor=counsellor.user, case=case)
    (stop,) = platform.fetch().json()["hashRecords"]
    assert (stop["signalType"], stop["hashValue"]) == ("VideoMD5", "1" * 32)
    (record,) = platform.get("/api/sharing/v1/feed").json()["records"]
    assert record["kind"] == "video"
    assert record["signals"] == [
        {"type": "video_md5", "value": "1" * 32},
        {"type": "vpdq", "frames": [[0, 90, "d" * 64, 0.0], [60, 70, "f" * 64, 2.0]]},
    ]


def _crowd(persona: Persona, case: Case, n: int) -> None:
    """``n`` shared photos whose changes all carry the same second."""
    cases.record_consent(actor=persona.user, case=case, scope="share", granted=True, method="phone")
    add_photos(persona, case, n)
    head, _ = FeedHead.objects.get_or_create(organisation_id=case.organisation_id)
    one_second = timezone.now().replace(microsecond=0) + dt.timedelta(seconds=120)
    head.last_time = one_second
    head.save()
    actions.approve_case(actor=persona.user, case=case)


def test_paging_loses_and_repeats_nothing_when_many_records_share_one_second(
    counsellor: Persona, case: Case, platform: PartnerClient
) -> None:
    _crowd(counsellor, case, 2500)
    records, checkpoints = platform.fetch_all(page_size=800)
    values = [r["hashValue"] for r in records]
    assert len({r["lastModtimestamp"] for r in records}) == 1
    assert len(values) == len(set(values)) == 2500
    assert set(values) == _pdqs(case)
    assert checkpoints == sorted(checkpoints), "the checkpoint went backwards"
    assert len(checkpoints) == 4


def test_starting_again_from_a_checkpoint_loses_nothing(
    counsellor: Persona, case: Case, platform: PartnerClient
) -> None:
    _crowd(counsellor, case, 30)
    first = platform.fetch(startTimestamp=10, pageSize=10).json()
    # The client stops after one page and comes back later from the checkpoint it kept.
    rest, _ = platform.fetch_all(start=first["nextSetTimestamp"], page_size=7)
    seen = {r["hashValue"] for r in first["hashRecords"]} | {r["hashValue"] for r in rest}
    assert seen == _pdqs(case)


def test_the_native_checkpoint_is_exact(counsellor: Persona, case: Case, platform: PartnerClient) -> None:
    _crowd(counsellor, case, 25)
    records, checkpoint = platform.native_all(page_size=10)
    assert len(records) == len({r["id"] for r in records}) == 25
    again, same = platform.native_all(checkpoint=checkpoint)
    assert again == []
    assert same == checkpoint


def test_withdrawing_share_consent_turns_what_a_partner_received_into_withdrawn_records(
    counsellor: Persona, shared_case: Case, platform: PartnerClient
) -> None:
    before, checkpoints = platform.fetch_all()
    _, native_checkpoint = platform.native_all()
    cases.record_consent(
        actor=counsellor.user, case=shared_case, scope="share", granted=False, method="phone"
    )
    after, _ = platform.fetch_all(start=checkpoints[-1])
    assert {r["hashValue"] for r in after} == {r["hashValue"] for r in before}
    assert {r["hashStatus"] for r in after} == {"Withdrawn"}
    assert all(set(r["caseNumbers"].values()) == {"Withdrawn"} for r in after)
    assert min(r["lastModtimestamp"] for r in after) >= max(r["lastModtimestamp"] for r in before)
    native, _ = platform.native_all(checkpoint=native_checkpoint)
    assert {r["status"] for r in native} == {"withdrawn"}
    assert all(r["signals"] for r in native), "a tombstone must say which hash to delete"


def test_a_partner_that_never_received_a_hash_is_never_sent_it(
    counsellor: Persona, shared_case: Case, platform: PartnerClient, make_partner: Callable[..., Any]
) -> None:
    platform.fetch_all()
    cases.record_consent(
        actor=counsellor.user, case=shared_case, scope="share", granted=False, method="phone"
    )
    fresh = make_partner("Fresh Platform")
    assert fresh.fetch_all()[0] == []
    assert fresh.native_all()[0] == []
    # ... while the partner that had them is told to delete them.
    assert {r["hashStatus"] for r in platform.fetch_all()[0]} == {"Withdrawn"}


def test_consent_given_again_shares_the_reviewed_items_again(
    counsellor: Persona, shared_case: Case, platform: PartnerClient
) -> None:
    platform.fetch_all()
    cases.record_consent(
        actor=counsellor.user, case=shared_case, scope="share", granted=False, method="phone"
    )
    cases.record_consent(actor=counsellor.user, case=shared_case, scope="share", granted=True, method="phone")
    records, _ = platform.fetch_all()
    assert {r["hashStatus"] for r in records} == {"Active"}
    assert len(records) == 2


def test_removing_an_item_withdraws_it(
    counsellor: Persona, shared_case: Case, platform: PartnerClient
) -> None:
    _, checkpoints = platform.fetch_all()
    item = ContentItem.objects.filter(case=shared_case).first()
    assert item is not None
    cases.remove_content(actor=counsellor.user, item=item)
    after, _ = platform.fetch_all(start=checkpoints[-1])
    statuses = {r["hashValue"]: r["hashStatus"] for r in after}
    assert statuses[item.pdq] == "Withdrawn"


def test_delete_my_data_turns_every_shared_item_into_deleted_records(
    shared_case: Case, platform: PartnerClient
) -> None:
    pdqs = _pdqs(shared_case)
    _, checkpoints = platform.fetch_all()
    platform.native_all()
    portal.delete_my_data(case=shared_case)
    after, _ = platform.fetch_all(start=checkpoints[-1])
    assert {r["hashValue"] for r in after} == pdqs
    assert {r["hashStatus"] for r in after} == {"Deleted"}
    native, _ = platform.native_all()
    assert {r["status"] for r in native} == {"deleted"}
    assert not ContentItem.objects.filter(case=shared_case).exclude(pdq="").exists()


def test_withdrawal_is_in_the_feed_when_the_request_returns(
    counsellor: Persona, shared_case: Case, platform: PartnerClient
) -> None:
    platform.fetch_all()
    start = timezone.now()
    cases.record_consent(
        actor=counsellor.user, case=shared_case, scope="share", granted=False, method="phone"
    )
    rows = SharedItem.objects.filter(case=shared_case)
    assert {r.status for r in rows} == {"withdrawn"}
    assert all(r.modified_at >= start.replace(microsecond=0) for r in rows)


def test_an_outsiders_case_never_reaches_this_organisations_partners(
    outsider: Persona, platform: PartnerClient
) -> None:
    other = cases.create_case(actor=outsider.user)
    cases.record_consent(actor=outsider.user, case=other, scope="share", granted=True, method="phone")
    add_photos(outsider, other, 2)
    actions.approve_case(actor=outsider.user, case=other)
    assert platform.fetch_all()[0] == []
    assert platform.native_all()[0] == []


def test_an_outsider_cannot_approve_another_organisations_case(outsider: Persona, shared_case: Case) -> None:
    from haven.web.core.errors import NotFound

    with pytest.raises(NotFound):
        actions.approve_case(actor=outsider.user, case=shared_case)


def test_roles_without_casework_cannot_approve(
    analyst: Persona, reviewer: Persona, shared_case: Case
) -> None:
    from django.core.exceptions import PermissionDenied

    for persona in (analyst, reviewer):
        with pytest.raises(PermissionDenied):
            actions.approve_case(actor=persona.user, case=shared_case)


def test_feedback_sends_the_record_again_with_it(shared_case: Case, platform: PartnerClient) -> None:
    _, checkpoint = platform.native_all()
    item = ContentItem.objects.filter(case=shared_case).first()
    assert item is not None
    actions.submit_feedback(partner=platform.partner, entries=[actions.FeedbackEntry(item.pdq, "Blocked")])
    records, _ = platform.native_all(checkpoint=checkpoint)
    assert [(r["status"], r["feedback"][0]["value"]) for r in records] == [("active", "Blocked")]


def test_a_withdrawn_twin_does_not_take_the_hash_from_a_case_still_sharing_it(
    counsellor: Persona, case: Case, shared_case: Case, platform: PartnerClient
) -> None:
    # The same picture in a second case; the first case withdraws.
    twin_pdq = ContentItem.objects.filter(case=shared_case).values_list("pdq", flat=True)[0]
    other = cases.create_case(actor=counsellor.user)
    cases.record_consent(actor=counsellor.user, case=other, scope="share", granted=True, method="phone")
    cases.add_content(actor=counsellor.user, case=other, items=[cases.HashInput("same", twin_pdq, 90)])
    actions.approve_case(actor=counsellor.user, case=other)
    _, checkpoints = platform.fetch_all()
    cases.record_consent(
        actor=counsellor.user, case=shared_case, scope="share", granted=False, method="phone"
    )
    after, _ = platform.fetch_all(start=checkpoints[-1])
    # A client that applies records in order (keyed by hash) ends with the twin's hash active.
    final = {}
    for record in after:
        final[record["hashValue"]] = record["hashStatus"]
    assert final[twin_pdq] == "Active"
    assert [r["hashStatus"] for r in after if r["hashValue"] == twin_pdq][-2:] == ["Withdrawn", "Active"]


def test_an_item_staff_withdrew_stays_withdrawn_when_consent_is_given_again(
    counsellor: Persona, shared_case: Case, platform: PartnerClient
) -> None:
    item = ContentItem.objects.filter(case=shared_case).first()
    assert item is not None
    actions.unshare_item(actor=counsellor.user, item=item)
    cases.record_consent(
        actor=counsellor.user, case=shared_case, scope="share", granted=False, method="phone"
    )
    cases.record_consent(actor=counsellor.user, case=shared_case, scope="share", granted=True, method="phone")
    statuses = {r["hashValue"]: r["hashStatus"] for r in platform.fetch_all()[0]}
    assert list(statuses.values()) == ["Active"]
    assert item.pdq not in statuses


def test_a_partner_that_started_late_is_still_told_of_a_withdrawal(
    counsellor: Persona, case: Case, platform: PartnerClient, make_partner: Callable[..., Any]
) -> None:
    import time

    cases.record_consent(actor=counsellor.user, case=case, scope="share", granted=True, method="phone")
    (item,) = add_photos(counsellor, case, 1)
    actions.approve_case(actor=counsellor.user, case=case)
    late = platform.fetch(startTimestamp=int(time.time()) - 5).json()
    assert [r["hashStatus"] for r in late["hashRecords"]] == ["Active"]
    native = make_partner("Native From Now")
    native.native_all(checkpoint=FeedHead.objects.get(organisation_id=case.organisation_id).seq - 1)
    cases.remove_content(actor=counsellor.user, item=item)
    assert [r["hashStatus"] for r in platform.fetch_all(start=late["nextSetTimestamp"])[0]] == ["Withdrawn"]
    assert [r["status"] for r in native.native_all()[0]] == ["withdrawn"]


def test_withdrawn_given_again_and_withdrawn_again_between_two_fetches_still_reaches_the_partner(
    counsellor: Persona, shared_case: Case, platform: PartnerClient
) -> None:
    _, checkpoints = platform.fetch_all()
    for granted in (False, True, False):
        cases.record_consent(
            actor=counsellor.user, case=shared_case, scope="share", granted=granted, method="phone"
        )
    assert {r["hashStatus"] for r in platform.fetch_all(start=checkpoints[-1])[0]} == {"Withdrawn"}
    cases.record_consent(actor=counsellor.user, case=shared_case, scope="share", granted=True, method="phone")
    portal.delete_my_data(case=shared_case)
    assert {r["hashStatus"] for r in platform.fetch_all(start=checkpoints[-1])[0]} == {"Deleted"}


def test_a_record_moved_by_another_partners_feedback_is_no_tombstone_for_one_that_never_had_it(
    counsellor: Persona, shared_case: Case, platform: PartnerClient, make_partner: Callable[..., Any]
) -> None:
    first, second = ContentItem.objects.filter(case=shared_case).order_by("pk")
    slow = make_partner("Slow Reader")
    page = slow.get("/api/sharing/v1/feed", checkpoint=0, page_size=1).json()
    assert len(page["records"]) == 1
    platform.native_all()
    actions.submit_feedback(partner=platform.partner, entries=[actions.FeedbackEntry(second.pdq, "Blocked")])
    actions.submit_feedback(partner=platform.partner, entries=[actions.FeedbackEntry(first.pdq, "Blocked")])
    received = {s["value"] for r in page["records"] for s in r["signals"]}
    never = second if first.pdq in received else first
    actions.unshare_item(actor=counsellor.user, item=never)
    rest, _ = slow.native_all(checkpoint=int(page["checkpoint"]))
    assert never.pdq not in {s["value"] for r in rest for s in r["signals"]}


def test_delete_my_data_blanks_the_shared_copy_once_no_partner_needs_it(
    counsellor: Persona, shared_case: Case, platform: PartnerClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = ContentItem.objects.filter(case=shared_case).order_by("pk")
    cases.remove_content(actor=counsellor.user, item=second)  # never sent to anyone
    page = platform.get("/api/sharing/v1/feed", checkpoint=0, page_size=1000).json()
    assert [s["value"] for r in page["records"] for s in r["signals"]] == [first.pdq]
    monkeypatch.setattr(actions, "ERASE_GRACE", dt.timedelta(0))
    portal.delete_my_data(case=shared_case)
    from haven.web.sharing.tasks import sweep

    assert sweep.call() == 1  # the worker's sweep
    rows = {row.content_item_id: row for row in SharedItem.objects.filter(case=shared_case)}
    assert rows[second.pk].purged
    assert rows[second.pk].pdq == ""
    assert not rows[first.pk].purged, "the partner that had it has not seen the tombstone yet"
    assert rows[first.pk].pdq == first.pdq
    # The partner is sent the tombstone, and asks to continue after it: the copy goes.
    tombstones = platform.get("/api/sharing/v1/feed", checkpoint=page["checkpoint"]).json()
    assert [r["status"] for r in tombstones["records"]] == ["deleted"]
    platform.get("/api/sharing/v1/feed", checkpoint=tombstones["checkpoint"])
    row = SharedItem.objects.get(pk=rows[first.pk].pk)
    assert row.purged
    assert (row.pdq, row.extra, row.stopncii_value) == ("", [], "")
    assert platform.native_all()[0] == []
