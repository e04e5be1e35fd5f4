"""POST /api/v1/lookup with query pictures: the robust rules, in every process's index."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from haven.signals import CROPS, PdqHash, QuerySignal, pdq_hash, query_signals
from haven.web.accounts.models import Organisation
from haven.web.audit.models import AuditEvent, EventType
from haven.web.cases import actions
from haven.web.cases.matching import ContentIndex
from haven.web.cases.models import Case, ContentItem
from haven.web.portal import actions as portal
from tests.scan.content import cropped, encode, meme, picture, robust_record

from ..conftest import Persona

pytestmark = pytest.mark.django_db

PHOTO = picture(3)
ORIGINAL = encode(PHOTO, quality=90)
RECORD = robust_record(ORIGINAL)
CROPPED = cropped(PHOTO)
MEME = meme(PHOTO)


def _post(api: Client, body: Any) -> Any:
    return api.post("/api/v1/lookup", data=json.dumps(body), content_type="application/json")


def _candidates(data: bytes) -> list[dict[str, Any]]:
    return [
        {
            "name": q.candidate,
            "hashes": [str(h) for h in q.hashes],
            "targets": None if q.targets is None else sorted(q.targets),
        }
        for q in query_signals(data)
    ]


def _monitored(case: Case, counsellor: Persona, record: dict[str, Any] = RECORD) -> ContentItem:
    actions.record_consent(actor=counsellor.user, case=case, scope="monitor", granted=True, method="phone")
    (item,) = actions.add_content(
        actor=counsellor.user,
        case=case,
        items=[actions.HashInput("photo", record["pdq"], record["quality"], extra=record["extra"])],
    )
    return item


def _found(index: ContentIndex, org: int, data: bytes) -> set[int]:
    return {h.item_id for h in index.lookup(org, pictures=[query_signals(data)])}


def test_a_cropped_copy_is_found_through_its_query_candidates(case: Case, counsellor: Persona) -> None:
    item = _monitored(case, counsellor)
    api = counsellor.api()
    assert _post(api, {"pdq": [str(pdq_hash(CROPPED).hash)]}).json() == []  # plain PDQ misses it
    hits = _post(api, {"pictures": [{"candidates": _candidates(CROPPED)}]}).json()
    assert len(hits) == 1
    (hit,) = hits
    assert (hit["query_kind"], hit["query_index"], hit["content"]["id"]) == ("picture", 0, item.pk)
    assert hit["signal"] in CROPS
    assert hit["distance"] <= 31
    assert hit["candidate"]


def test_a_robust_hash_record_of_the_copy_is_a_query_too(case: Case, counsellor: Persona) -> None:
    item = _monitored(case, counsellor)
    copy = robust_record(CROPPED)
    hits = _post(counsellor.api(), {"pictures": [{"pdq": copy["pdq"], "extra": copy["extra"]}]}).json()
    assert [(h["content"]["id"], h["signal"], h["candidate"]) for h in hits] == [
        (item.pk, "centre80", "whole")
    ]


def test_a_meme_framed_copy_is_found(case: Case, counsellor: Persona) -> None:
    item = _monitored(case, counsellor)
    hits = _post(counsellor.api(), {"pictures": [{"candidates": _candidates(MEME)}]}).json()
    assert [h["content"]["id"] for h in hits] == [item.pk]


def test_plain_lookups_keep_their_answer_and_say_no_signal(case: Case, counsellor: Persona) -> None:
    _monitored(case, counsellor)
    (hit,) = _post(counsellor.api(), {"pdq": [RECORD["pdq"]]}).json()
    assert (hit["query_kind"], hit["distance"], hit["signal"], hit["candidate"]) == ("pdq", 0, None, None)
    assert hit["content"]["extra"][0]["kind"] in CROPS


def test_a_crop_signal_matches_only_a_query_for_the_same_kind(case: Case, counsellor: Persona) -> None:
    _monitored(case, counsellor)
    stored = {e["kind"]: e["pdq"] for e in RECORD["extra"]}
    kind = next(iter(stored))
    other = next(k for k in CROPS if k != kind)
    same = {"name": "mine", "hashes": [stored[kind]], "targets": [kind]}
    wrong = {"name": "theirs", "hashes": [stored[kind]], "targets": [other]}
    api = counsellor.api()
    assert [h["signal"] for h in _post(api, {"pictures": [{"candidates": [same]}]}).json()] == [kind]
    assert _post(api, {"pictures": [{"candidates": [wrong]}]}).json() == []
    # The whole-picture PDQ is no crop: a query for a crop kind does not match it.
    whole_as_crop = {"name": "x", "hashes": [RECORD["pdq"]], "targets": [kind]}
    assert _post(api, {"pictures": [{"candidates": [whole_as_crop]}]}).json() == []


def test_the_radius_caps_every_kinds_threshold(case: Case, counsellor: Persona) -> None:
    _monitored(case, counsellor)
    near = f"{int(RECORD['pdq'], 16) ^ 0b111:064x}"  # three bits away
    query = {"name": "near", "hashes": [near]}
    api = counsellor.api()
    assert [h["distance"] for h in _post(api, {"pictures": [{"candidates": [query]}]}).json()] == [3]
    assert _post(api, {"pictures": [{"candidates": [query]}], "radius": 2}).json() == []


def test_withdrawal_removes_the_extra_signals_from_every_process(case: Case, counsellor: Persona) -> None:
    first, second = ContentIndex(), ContentIndex()  # two server processes
    org = counsellor.user.organisation_id
    item = _monitored(case, counsellor)
    assert _found(first, org, CROPPED) == _found(second, org, CROPPED) == {item.pk}
    actions.record_consent(actor=counsellor.user, case=case, scope="monitor", granted=False, method="phone")
    assert _found(first, org, CROPPED) == _found(second, org, CROPPED) == set()
    actions.record_consent(actor=counsellor.user, case=case, scope="monitor", granted=True, method="phone")
    assert _found(second, org, CROPPED) == {item.pk}
    actions.remove_content(actor=counsellor.user, item=item)
    assert _found(first, org, CROPPED) == _found(second, org, CROPPED) == set()


def test_delete_my_data_removes_the_extra_signals_from_every_process(org_a: Organisation) -> None:
    first, second = ContentIndex(), ContentIndex()
    case, _number, _pin = portal.submit_hashes(
        organisation=org_a, items=[{**RECORD, "sha256": ""}], consents={"monitor": True}
    )
    assert _found(first, org_a.pk, CROPPED) == _found(second, org_a.pk, CROPPED) != set()
    portal.delete_my_data(case=case)
    assert _found(first, org_a.pk, CROPPED) == _found(second, org_a.pk, CROPPED) == set()
    assert ContentItem.objects.get().extra == []


def test_flat_crop_signals_are_not_indexed(case: Case, counsellor: Persona) -> None:
    kind, hex_ = RECORD["extra"][0]["kind"], RECORD["extra"][0]["pdq"]
    record = {**RECORD, "extra": [{"kind": kind, "pdq": hex_, "quality": 10}]}
    _monitored(case, counsellor, record)
    query = [QuerySignal("c", (PdqHash.from_hex(hex_),), 100, frozenset({kind}))]
    assert ContentIndex().lookup(counsellor.user.organisation_id, pictures=[query]) == []


def test_an_outsider_finds_nothing_of_another_centre(
    case: Case, counsellor: Persona, outsider: Persona
) -> None:
    _monitored(case, counsellor)
    assert _post(outsider.api(), {"pictures": [{"candidates": _candidates(CROPPED)}]}).json() == []
    assert (
        _post(outsider.api(), {"pictures": [{"pdq": RECORD["pdq"], "extra": RECORD["extra"]}]}).json() == []
    )


def test_staff_without_lookup_permission_cannot_look_up_pictures(case: Case, analyst: Persona) -> None:
    assert _post(analyst.api(), {"pictures": [{"pdq": RECORD["pdq"]}]}).status_code == 403


@pytest.mark.parametrize(
    ("picture", "message"),
    [
        ({}, "Picture 1: Give a PDQ hash, extra signals or query candidates."),
        ({"candidates": [{"name": "c", "hashes": ["abc"]}]}, "pictures.0.candidates.0.hashes.0"),
        (
            {"candidates": [{"name": "c", "hashes": [RECORD["pdq"]], "targets": ["centre70"]}]},
            "unknown kinds",
        ),
        ({"extra": [{"kind": "centre70", "pdq": RECORD["pdq"]}]}, "Picture 1: Extra signal 1: unknown kind"),
        ({"extra": [{"kind": "top50", "pdq": "1" * 64}] * 2}, "a “top50” signal was given already"),
        ({"extra": [{"kind": "top50", "pdq": "1" * 64}] * 12}, "at most 11 extra signals"),
        ({"pdq_dihedral": [RECORD["pdq"]] * 8}, "Dihedral hashes must be 8"),
        ({"pdq": RECORD["pdq"], "pdq_dihedral": ["1" * 64] * 8}, "Dihedral hashes must be 8"),
    ],
)
def test_a_malformed_picture_is_refused_by_number_and_nothing_is_logged(
    case: Case, counsellor: Persona, picture: dict[str, Any], message: str
) -> None:
    _monitored(case, counsellor)
    response = _post(counsellor.api(), {"pictures": [picture]})
    assert response.status_code == 422, response.content
    assert message in response.json()["detail"]
    assert not AuditEvent.objects.filter(event_type=EventType.LOOKUP).exists()


@pytest.mark.parametrize(
    "picture",
    [
        {"pdq": "z" * 64},
        {"candidates": [{"name": "c\x00", "hashes": [RECORD["pdq"]]}]},
        {"candidates": [{"name": "c", "hashes": [RECORD["pdq"]] * 9}]},
        {"candidates": [{"name": "c", "hashes": []}]},
        {"candidates": "whole"},
    ],
)
def test_a_picture_of_the_wrong_shape_is_refused(case: Case, counsellor: Persona, picture: Any) -> None:
    response = _post(counsellor.api(), {"pictures": [picture]})
    assert response.status_code == 422, response.content
    assert "detail" in response.json()
    assert not AuditEvent.objects.filter(event_type=EventType.LOOKUP).exists()


def test_too_many_candidates_for_a_picture_are_refused(case: Case, counsellor: Persona) -> None:
    _monitored(case, counsellor)
    one = _candidates(CROPPED)[0]
    r = _post(counsellor.api(), {"pictures": [{"candidates": [one] * 257}]})
    assert r.status_code == 422
    assert "256" in json.dumps(r.json())
    # Every candidate the query side makes fits.
    assert len(_candidates(MEME)) <= 256
    assert _post(counsellor.api(), {"pictures": [{"candidates": _candidates(MEME)}]}).status_code == 200
