"""The partner endpoints: keys, limits, feedback, submitted hashes, and bad input that changes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from haven.web.audit.models import AuditEvent, EventType
from haven.web.cases.models import Case, ContentItem
from haven.web.sharing import actions, feed
from haven.web.sharing.models import Feedback, QuarantinedHash, SharedItem
from tests.web.conftest import Persona

from .conftest import PartnerClient

FETCH = "/api/stopncii/v1/FetchHashes"
FEEDBACK = "/api/stopncii/v1/SubmitFeedback"
SUBMIT = "/api/stopncii/v1/SubmitHashes"
NATIVE = "/api/sharing/v1/feed"
OPINIONS = "/api/sharing/v1/opinions"
HASHES = "/api/sharing/v1/hashes"


@pytest.fixture(autouse=True)
def _fresh_rate_limits(db: None) -> None:
    cache.clear()


def _state() -> tuple[int, int, int, int]:
    return (
        Feedback.objects.count(),
        QuarantinedHash.objects.count(),
        SharedItem.objects.filter(status="active").count(),
        AuditEvent.objects.exclude(event_type=EventType.PARTNER_FETCHED).count(),
    )


def _shared_pdq(case: Case) -> str:
    item = ContentItem.objects.filter(case=case).first()
    assert item is not None
    return item.pdq


# --- keys ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [FETCH, NATIVE])
def test_a_wrong_key_gets_401_json(shared_case: Case, platform: PartnerClient, path: str) -> None:
    for headers in (
        {},
        {"Ocp-Apim-Subscription-Key": platform.keys.subscription_key},
        {"x-functions-key": platform.keys.fetch_key},
        {"Ocp-Apim-Subscription-Key": "hvk_wrong", "x-functions-key": platform.keys.fetch_key},
        {"Ocp-Apim-Subscription-Key": platform.keys.subscription_key, "x-functions-key": "hvf_wrong"},
        # the feedback key is no key for fetching
        {
            "Ocp-Apim-Subscription-Key": platform.keys.subscription_key,
            "x-functions-key": platform.keys.feedback_key,
        },
        {"Ocp-Apim-Subscription-Key": "x" * 5000, "x-functions-key": "y" * 5000},
    ):
        response = Client().get(path, headers=headers)
        assert response.status_code == 401, headers
        assert response["Content-Type"].startswith("application/json")
        assert "x-functions-key" in response.json()["detail"]


def test_keys_of_two_partners_do_not_mix(
    shared_case: Case, make_partner: Callable[..., PartnerClient]
) -> None:
    first, second = make_partner("First"), make_partner("Second")
    headers = {
        "Ocp-Apim-Subscription-Key": first.keys.subscription_key,
        "x-functions-key": second.keys.fetch_key,
    }
    assert Client().get(FETCH, headers=headers).status_code == 401


def test_a_revoked_partner_gets_401(admin: Persona, shared_case: Case, platform: PartnerClient) -> None:
    assert platform.fetch().status_code == 200
    actions.revoke_partner(actor=admin.user, partner=platform.partner)
    assert platform.fetch().status_code == 401
    assert platform.post(FEEDBACK, {"hashFeedbacks": []}, "feedback").status_code == 401


def test_a_rotated_key_replaces_the_old_one_at_once(
    admin: Persona, shared_case: Case, platform: PartnerClient
) -> None:
    new_key = actions.rotate_key(actor=admin.user, partner=platform.partner, kind="fetch")
    assert platform.fetch().status_code == 401
    headers = {"Ocp-Apim-Subscription-Key": platform.keys.subscription_key, "x-functions-key": new_key}
    assert Client().get(FETCH, headers=headers).status_code == 200


def test_keys_are_stored_only_as_digests(platform: PartnerClient) -> None:
    stored = json.dumps(list(platform.partner.keys.values()), default=str)
    for key in platform.keys.as_dict().values():
        assert key not in stored
        assert actions.key_digest(key) in stored


def test_last_seen_is_recorded(shared_case: Case, platform: PartnerClient) -> None:
    assert platform.partner.last_seen_at is None
    platform.fetch()
    platform.partner.refresh_from_db()
    assert platform.partner.last_seen_at is not None


def test_an_endpoint_the_partner_may_not_use_gets_403(
    shared_case: Case, make_partner: Callable[..., PartnerClient]
) -> None:
    reader = make_partner("Reader", allowed=["fetch"])
    assert reader.fetch().status_code == 200
    pdq = _shared_pdq(shared_case)
    body = {"hashFeedbacks": [{"hashValue": pdq, "feedbackValue": "Blocked"}]}
    assert reader.post(FEEDBACK, body, "feedback").status_code == 403
    assert Feedback.objects.count() == 0


def test_a_partner_past_its_rate_limit_gets_429(
    shared_case: Case, make_partner: Callable[..., PartnerClient]
) -> None:
    slow = make_partner("Slow", rate_limit=3)
    assert [slow.fetch().status_code for _ in range(3)] == [200, 200, 200]
    limited = slow.fetch()
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) >= 0
    assert "slow down" in limited.json()["detail"]


def test_fetches_are_audited_without_the_hashes(shared_case: Case, platform: PartnerClient) -> None:
    platform.fetch_all()
    event = AuditEvent.objects.filter(event_type=EventType.PARTNER_FETCHED).last()
    assert event is not None
    assert event.summary["records"] == 2
    assert _shared_pdq(shared_case) not in json.dumps(event.summary)


# --- page tokens --------------------------------------------------------------------------------


def test_an_altered_page_token_gets_400(
    counsellor: Persona, shared_case: Case, platform: PartnerClient
) -> None:
    page = platform.fetch(pageSize=1).json()
    token = page["nextPageToken"]
    assert token
    response = platform.fetch(pageSize=1, nextPageToken=token[:-3] + "AAA")
    assert response.status_code == 400
    assert "not one this server gave" in response.json()["detail"]


def test_another_partners_page_token_gets_400(
    shared_case: Case, platform: PartnerClient, make_partner: Callable[..., PartnerClient]
) -> None:
    token = platform.fetch(pageSize=1).json()["nextPageToken"]
    other = make_partner("Other")
    assert other.fetch(pageSize=1, nextPageToken=token).status_code == 400
    # ... and with another start time
    assert platform.fetch(pageSize=1, startTimestamp=11, nextPageToken=token).status_code == 400


def test_an_expired_page_token_gets_400(
    shared_case: Case, platform: PartnerClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = platform.fetch(pageSize=1).json()["nextPageToken"]
    monkeypatch.setattr(feed, "TOKEN_MAX_AGE", -1)
    response = platform.fetch(pageSize=1, nextPageToken=token)
    assert response.status_code == 400
    assert "expired" in response.json()["detail"]


def test_a_replayed_page_token_gives_the_same_page(shared_case: Case, platform: PartnerClient) -> None:
    token = platform.fetch(pageSize=1).json()["nextPageToken"]
    first = platform.fetch(pageSize=1, nextPageToken=token).json()
    again = platform.fetch(pageSize=1, nextPageToken=token).json()
    assert first["hashRecords"] == again["hashRecords"]


@pytest.mark.parametrize(
    "params",
    [
        {"pageSize": 1001},
        {"pageSize": 0},
        {"pageSize": "many"},
        {"startTimestamp": -1},
        {"startTimestamp": "yesterday"},
        {"startTimestamp": 253402300800},
        {"startTimestamp": 2**40},
        {"nextPageToken": "x" * 2000},
    ],
)
def test_bad_fetch_parameters_get_a_clear_4xx(
    shared_case: Case, platform: PartnerClient, params: Any
) -> None:
    response = platform.fetch(**params)
    assert response.status_code in (400, 422)
    assert response.json()["detail"]


def test_a_native_checkpoint_past_the_end_gets_400(shared_case: Case, platform: PartnerClient) -> None:
    response = platform.get(NATIVE, checkpoint=10**9)
    assert response.status_code == 400
    assert platform.get(NATIVE, checkpoint="abc").status_code == 422


# --- feedback -----------------------------------------------------------------------------------


def test_feedback_lands_on_the_case(counsellor: Persona, shared_case: Case, platform: PartnerClient) -> None:
    pdq = _shared_pdq(shared_case)
    platform.fetch_all()
    body = {"count": 1, "hashFeedbacks": [{"hashValue": pdq, "feedbackValue": "Blocked", "tags": ["upload"]}]}
    response = platform.post(FEEDBACK, body, "feedback")
    assert response.status_code == 200, response.content
    (feedback,) = Feedback.objects.all()
    assert (feedback.value, feedback.tags, feedback.item.case_id) == ("Blocked", ["upload"], shared_case.pk)
    event = AuditEvent.objects.filter(event_type=EventType.PARTNER_FEEDBACK).get()
    assert event.object_id == str(shared_case.pk)
    assert event.summary["partner"] == "Example Platform"
    # The counsellor sees it on the case page; the next fetch carries it as CSPFeedbacks.
    (record,) = [r for r in platform.fetch_all()[0] if r["hashValue"] == pdq]
    assert record["CSPFeedbacks"] == [
        {"feedbackValue": "Blocked", "tags": ["upload"], "source": "Example Platform"}
    ]


def test_native_opinions_land_on_the_case_too(shared_case: Case, platform: PartnerClient) -> None:
    pdq = _shared_pdq(shared_case)
    platform.native_all()
    body = {"opinions": [{"type": "pdq", "value": pdq.upper(), "opinion": "PendingReview"}]}
    response = platform.post(OPINIONS, body, "feedback")
    assert response.status_code == 200, response.content
    assert response.json() == {"accepted": 1}
    assert Feedback.objects.get().value == "PendingReview"


def test_feedback_on_a_hash_never_sent_is_refused_whole(shared_case: Case, platform: PartnerClient) -> None:
    platform.fetch_all()
    before = _state()
    body = {
        "hashFeedbacks": [
            {"hashValue": _shared_pdq(shared_case), "feedbackValue": "Blocked"},
            {"hashValue": "0" * 64, "feedbackValue": "Blocked"},
        ]
    }
    response = platform.post(FEEDBACK, body, "feedback")
    assert response.status_code == 422
    assert "never sent" in response.json()["detail"]
    assert _state() == before


def test_a_partner_cannot_give_feedback_on_another_organisations_hash(
    outsider: Persona, make_partner: Callable[..., PartnerClient], shared_case: Case
) -> None:
    from haven.web.sharing.actions import create_partner

    partner, keys = create_partner(
        actor="cli", organisation=outsider.user.organisation, name="B's", kind="platform"
    )
    theirs = PartnerClient(partner, keys)
    body = {"hashFeedbacks": [{"hashValue": _shared_pdq(shared_case), "feedbackValue": "Blocked"}]}
    assert theirs.post(FEEDBACK, body, "feedback").status_code == 422
    assert Feedback.objects.count() == 0


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "[]",
        "null",
        {"hashFeedbacks": []},
        {"hashFeedbacks": [{"hashValue": "zz", "feedbackValue": "Blocked"}]},
        {"hashFeedbacks": [{"hashValue": "a" * 64, "feedbackValue": "active"}]},
        {"hashFeedbacks": [{"hashValue": "a" * 64, "feedbackValue": "Blocked", "tags": ["x" * 101]}]},
        {"hashFeedbacks": [{"hashValue": "a" * 64, "feedbackValue": "Blocked", "tags": ["a\x00"]}]},
        {"count": 2, "hashFeedbacks": [{"hashValue": "a" * 64, "feedbackValue": "Blocked"}]},
        {"hashFeedbacks": [{"hashValue": "a" * 64, "feedbackValue": "Blocked"}] * 1001},
    ],
)
def test_bad_feedback_gets_a_clear_4xx_and_changes_nothing(
    shared_case: Case, platform: PartnerClient, body: Any
) -> None:
    before = _state()
    data = body if isinstance(body, str) else json.dumps(body)
    response = Client().post(
        FEEDBACK, data, content_type="application/json", headers=platform.headers("feedback")
    )
    assert 400 <= response.status_code < 500
    assert response.json()["detail"]
    assert _state() == before


def test_a_huge_body_gets_413(shared_case: Case, platform: PartnerClient) -> None:
    before = _state()
    data = json.dumps(
        {
            "hashFeedbacks": [{"hashValue": "a" * 64, "feedbackValue": "Blocked", "tags": ["x" * 90] * 20}]
            * 600
        }
    )
    assert len(data) > 2**20
    response = Client().post(
        FEEDBACK, data, content_type="application/json", headers=platform.headers("feedback")
    )
    assert response.status_code == 413
    assert _state() == before


# --- hashes partners found ----------------------------------------------------------------------


def test_submitted_hashes_wait_in_quarantine(shared_case: Case, platform: PartnerClient) -> None:
    # The spelling pytx's submit_hashes sends: str() of its enum.
    body = {
        "count": 2,
        "hashRecords": [
            {
                "lastModtimestamp": 1764871234,
                "signalType": "StopNCIISignalType.ImagePDQ",
                "hashValue": "ab" * 32,
                "CSPFeedbacks": [{"feedbackValue": "Blocked", "tags": ["found-on-upload"]}],
            },
            {"signalType": "VideoMD5", "hashValue": "CD" * 16, "CSPFeedbacks": []},
        ],
    }
    response = platform.post(SUBMIT, body, "submit")
    assert response.status_code == 200, response.content
    rows = {(q.signal_type, q.value): q for q in QuarantinedHash.objects.all()}
    assert set(rows) == {("pdq", "ab" * 32), ("video_md5", "cd" * 16)}
    assert rows[("pdq", "ab" * 32)].partner_opinion == "Blocked"
    assert {q.status for q in rows.values()} == {"pending"}
    # Sent again: nothing new.
    assert platform.post(SUBMIT, body, "submit").status_code == 200
    assert QuarantinedHash.objects.count() == 2


def test_native_submitted_hashes_wait_in_quarantine(shared_case: Case, platform: PartnerClient) -> None:
    body = {"hashes": [{"type": "pdq", "value": "ef" * 32, "tags": ["t"]}]}
    response = platform.post(HASHES, body, "submit")
    assert response.status_code == 200, response.content
    assert QuarantinedHash.objects.get().value == "ef" * 32


@pytest.mark.parametrize(
    "record",
    [
        {"signalType": "ImagePDQ", "hashValue": "ab" * 16},
        {"signalType": "VideoMD5", "hashValue": "ab" * 32},
        {"signalType": "VideoTMK", "hashValue": "ab" * 32},
        {"signalType": "ImagePDQ", "hashValue": "zz" * 32},
        {"signalType": "ImagePDQ"},
        {"signalType": "ImagePDQ", "hashValue": "ab" * 32, "CSPFeedbacks": [{"feedbackValue": "Maybe"}]},
    ],
)
def test_bad_submitted_hashes_are_refused_whole(
    shared_case: Case, platform: PartnerClient, record: Any
) -> None:
    good = {"signalType": "ImagePDQ", "hashValue": "12" * 32}
    response = platform.post(SUBMIT, {"hashRecords": [good, record]}, "submit")
    assert response.status_code == 422
    assert response.json()["detail"]
    assert QuarantinedHash.objects.count() == 0


def test_a_reviewer_accepts_or_rejects_a_quarantined_hash(
    reviewer: Persona, outsider: Persona, shared_case: Case, platform: PartnerClient
) -> None:
    from django.core.exceptions import PermissionDenied

    from haven.web.core.errors import ActionError, NotFound

    platform.post(SUBMIT, {"hashRecords": [{"signalType": "ImagePDQ", "hashValue": "ab" * 32}]}, "submit")
    entry = QuarantinedHash.objects.get()
    with pytest.raises(NotFound):
        actions.review_quarantined(actor=outsider.user, entry=entry, accept=True)
    response = reviewer.api().get("/api/v1/quarantine")
    assert [q["value"] for q in response.json()] == ["ab" * 32]
    assert outsider.api().get("/api/v1/quarantine").json() == []
    assert (
        outsider.api()
        .post(f"/api/v1/quarantine/{entry.pk}", {"accept": True}, content_type="application/json")
        .status_code
        == 404
    )
    response = reviewer.api().post(
        f"/api/v1/quarantine/{entry.pk}", {"accept": True}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "accepted"
    with pytest.raises(ActionError):
        actions.review_quarantined(actor=reviewer.user, entry=entry, accept=False)
    entry.refresh_from_db()
    assert entry.status == "accepted"
    assert entry.reviewed_by == reviewer.user
    with pytest.raises(PermissionDenied):
        actions.review_quarantined(actor=_analyst(outsider), entry=entry, accept=True)


def _analyst(persona: Persona) -> Any:
    from haven.web.accounts.models import User

    return User.objects.create_user(
        username="analyst-b", password="x" * 20, organisation=persona.user.organisation, role="analyst"
    )


def test_a_quarantined_hash_matches_nothing(
    counsellor: Persona, shared_case: Case, platform: PartnerClient
) -> None:
    pdq = "ab" * 32
    platform.post(SUBMIT, {"hashRecords": [{"signalType": "ImagePDQ", "hashValue": pdq}]}, "submit")
    response = counsellor.api().post("/api/v1/lookup", {"pdq": [pdq]}, content_type="application/json")
    assert response.status_code == 200
    assert response.json() == []


# --- the staff API ------------------------------------------------------------------------------


def test_approval_is_an_api_call(counsellor: Persona, case: Case, platform: PartnerClient) -> None:
    from haven.web.cases import actions as cases

    from .conftest import add_photos

    cases.record_consent(actor=counsellor.user, case=case, scope="share", granted=True, method="phone")
    add_photos(counsellor, case, 1)
    add_photos(counsellor, case, 1, quality=10)
    response = counsellor.api().post(
        f"/api/v1/cases/{case.number}/sharing/approve", {}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["approved"] == 1
    assert [s["label"] for s in response.json()["skipped"]] == ["photo 1"]
    assert len(platform.fetch().json()["hashRecords"]) == 1


def test_approval_api_refuses_outsiders_and_analysts(
    outsider: Persona, analyst: Persona, shared_case: Case
) -> None:
    path = f"/api/v1/cases/{shared_case.number}/sharing/approve"
    assert outsider.api().post(path, {}, content_type="application/json").status_code == 404
    assert analyst.api().post(path, {}, content_type="application/json").status_code == 403
    assert Client().post(path, {}, content_type="application/json").status_code == 401


def test_a_partner_gives_feedback_only_on_what_it_was_sent(
    shared_case: Case, platform: PartnerClient, make_partner: Callable[..., PartnerClient]
) -> None:
    # A partner allowed to give feedback must not learn which hashes are shared by trying them.
    pdq = _shared_pdq(shared_case)
    body = {"hashFeedbacks": [{"hashValue": pdq, "feedbackValue": "Blocked"}]}
    assert platform.post(FEEDBACK, body, "feedback").status_code == 422
    platform.fetch_all()
    assert platform.post(FEEDBACK, body, "feedback").status_code == 200


def test_repeated_feedback_is_kept_once_and_moves_nothing(shared_case: Case, platform: PartnerClient) -> None:
    pdq = _shared_pdq(shared_case)
    _, checkpoint = platform.native_all()
    body = {"hashFeedbacks": [{"hashValue": pdq, "feedbackValue": "Blocked"}] * 1000}
    for _ in range(3):
        assert platform.post(FEEDBACK, body, "feedback").status_code == 200
    assert Feedback.objects.count() == 1
    records, checkpoint = platform.native_all(checkpoint=checkpoint)
    assert len(records) == 1
    assert platform.post(FEEDBACK, body, "feedback").status_code == 200
    assert platform.native_all(checkpoint=checkpoint)[0] == [], (
        "unchanged feedback must not resend the record"
    )
    events = AuditEvent.objects.filter(event_type=EventType.PARTNER_FEEDBACK).count()
    assert events == 1


def test_other_partners_see_the_value_of_feedback_but_not_who_gave_it(
    shared_case: Case, platform: PartnerClient, make_partner: Callable[..., PartnerClient]
) -> None:
    other = make_partner("Other Platform")
    other.fetch_all()
    pdq = _shared_pdq(shared_case)
    platform.fetch_all()
    body = {"hashFeedbacks": [{"hashValue": pdq, "feedbackValue": "Blocked", "tags": ["seen on /u/123"]}]}
    platform.post(FEEDBACK, body, "feedback")
    (mine,) = [r for r in platform.fetch_all()[0] if r["hashValue"] == pdq]
    (theirs,) = [r for r in other.fetch_all()[0] if r["hashValue"] == pdq]
    assert mine["CSPFeedbacks"] == [
        {"feedbackValue": "Blocked", "tags": ["seen on /u/123"], "source": "Example Platform"}
    ]
    assert theirs["CSPFeedbacks"] == [{"feedbackValue": "Blocked", "tags": [], "source": ""}]
    native = other.native_all()[0]
    assert all(f["source"] == "" and f["tags"] == [] for r in native for f in r["feedback"])


def test_feedback_on_a_crop_signal_the_feed_sent_lands(
    counsellor: Persona, case: Case, platform: PartnerClient
) -> None:
    from haven.web.cases import actions as cases

    cases.record_consent(actor=counsellor.user, case=case, scope="share", granted=True, method="phone")
    crop = {"kind": "centre80", "pdq": "b" * 64, "quality": 80}
    cases.add_content(
        actor=counsellor.user, case=case, items=[cases.HashInput("p", "a" * 64, 90, extra=[crop])]
    )
    actions.approve_case(actor=counsellor.user, case=case)
    platform.native_all()
    body = {"opinions": [{"type": "pdq", "value": "b" * 64, "opinion": "Blocked"}]}
    assert platform.post(OPINIONS, body, "feedback").status_code == 200
    assert Feedback.objects.get().item.case_id == case.pk


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("post", FETCH, 405),
        ("get", FEEDBACK, 405),
        ("delete", NATIVE, 405),
        ("get", "/api/stopncii/v1/NoSuchEndpoint", 404),
        ("get", "/api/sharing/v1/nothing/here", 404),
        ("get", "/api/v1/no-such-thing", 404),
    ],
)
def test_a_wrong_method_or_path_gets_json_too(
    platform: PartnerClient, method: str, path: str, status: int
) -> None:
    response = getattr(Client(), method)(path, headers=platform.headers())
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["detail"]


def test_a_partner_body_must_be_json_but_may_carry_fields_this_version_does_not_know(
    shared_case: Case, platform: PartnerClient
) -> None:
    """Partners' clients are not ours: a newer one may add fields (ignored), but a body that is
    not a JSON object is refused before anything is read."""
    pdq = _shared_pdq(shared_case)
    platform.fetch_all()
    before = _state()
    headers = platform.headers("feedback")
    for data, content_type, status in (
        ("null", "application/json", 400),
        ('"Blocked"', "application/json", 400),
        (json.dumps({"hashFeedbacks": []}), "text/plain", 415),
    ):
        response = Client().post(FEEDBACK, data, content_type=content_type, headers=headers)
        assert response.status_code == status, (data, response.content)
        assert response.json()["detail"]
    assert _state() == before
    body = {"hashFeedbacks": [{"hashValue": pdq, "feedbackValue": "Blocked", "region": "KR"}], "batch": "7"}
    assert platform.post(FEEDBACK, body, "feedback").status_code == 200
