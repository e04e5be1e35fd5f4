"""/api/v1: every endpoint, every persona; bad input changes nothing."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from haven.web.audit.models import AuditEvent, EventType
from haven.web.cases.models import Case, ContentItem

from ..conftest import Persona

pytestmark = pytest.mark.django_db

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
NEAR = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b25"  # 3 bits away
MD5 = "0123456789abcdef0123456789abcdef"


def post(client: Client, url: str, payload: object) -> object:
    return client.post(url, data=json.dumps(payload), content_type="application/json")


def test_requests_without_a_valid_token_are_refused(case: Case) -> None:
    assert Client().get("/api/v1/cases").status_code == 401
    bad = Client(headers={"Authorization": "Bearer hvn_not-a-token"})
    assert bad.get(f"/api/v1/cases/{case.number}").status_code == 401


def test_the_openapi_spec_and_docs_are_served() -> None:
    spec = Client().get("/api/v1/openapi.json")
    assert spec.status_code == 200
    assert "/api/v1/lookup" in spec.json()["paths"]
    docs = Client().get("/api/v1/docs")
    assert docs.status_code == 200
    page = docs.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in page
    assert "cdn" not in page  # no third-party requests, even for the API docs


def test_a_counsellor_creates_reads_and_lists_cases(counsellor: Persona) -> None:
    api = counsellor.api()
    response = post(api, "/api/v1/cases", {"contact": "phone", "tfgbv_type": "synthetic_imagery"})
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["number"].startswith("HV-")
    assert created["dsa_category"] == "NON_CONSENSUAL_MATERIAL_DEEPFAKE"
    assert created["gbvims_type"] == "psychological_abuse"
    assert "contact" not in created
    assert api.get(f"/api/v1/cases/{created['number']}").json()["number"] == created["number"]
    assert [c["number"] for c in api.get("/api/v1/cases").json()] == [created["number"]]


def test_an_outsider_never_sees_another_organisations_case(case: Case, outsider: Persona) -> None:
    api = outsider.api()
    assert api.get("/api/v1/cases").json() == []
    for method, url, payload in [
        ("get", f"/api/v1/cases/{case.number}", None),
        ("patch", f"/api/v1/cases/{case.number}", {"platforms": "x"}),
        ("post", f"/api/v1/cases/{case.number}/status", {"status": "active"}),
        ("get", f"/api/v1/cases/{case.number}/contact", None),
        ("get", f"/api/v1/cases/{case.number}/consent", None),
        (
            "post",
            f"/api/v1/cases/{case.number}/consent",
            {"scope": "monitor", "granted": False, "method": "phone"},
        ),
        ("get", f"/api/v1/cases/{case.number}/content", None),
        ("post", f"/api/v1/cases/{case.number}/content", [{"label": "x", "pdq": PDQ}]),
    ]:
        kwargs = (
            {"data": json.dumps(payload), "content_type": "application/json"} if payload is not None else {}
        )
        response = getattr(api, method)(url, **kwargs)
        assert response.status_code == 404, (method, url, response.status_code)
    assert not AuditEvent.objects.filter(actor=outsider.user, object_id=str(case.pk)).exists()


def test_an_outsider_cannot_remove_content_or_find_it_by_lookup(
    case: Case, counsellor: Persona, outsider: Persona
) -> None:
    post(
        counsellor.api(),
        f"/api/v1/cases/{case.number}/consent",
        {"scope": "monitor", "granted": True, "method": "phone"},
    )
    item = post(
        counsellor.api(), f"/api/v1/cases/{case.number}/content", [{"label": "p", "pdq": PDQ}]
    ).json()[0]
    assert outsider.api().delete(f"/api/v1/content/{item['id']}").status_code == 404
    assert post(outsider.api(), "/api/v1/lookup", {"pdq": [PDQ]}).json() == []
    assert len(post(counsellor.api(), "/api/v1/lookup", {"pdq": [PDQ]}).json()) == 1


def test_an_analyst_sees_no_cases(case: Case, analyst: Persona) -> None:
    api = analyst.api()
    assert api.get("/api/v1/cases").status_code == 403
    assert api.get(f"/api/v1/cases/{case.number}").status_code == 403
    assert post(api, "/api/v1/cases", {}).status_code == 403
    assert post(api, "/api/v1/lookup", {"pdq": [PDQ]}).status_code == 403


def test_a_deletion_officer_sees_hashes_but_not_contact_details_or_consent_changes(
    case: Case, officer: Persona
) -> None:
    api = officer.api()
    assert api.get(f"/api/v1/cases/{case.number}").status_code == 200
    assert api.get(f"/api/v1/cases/{case.number}/contact").status_code == 403
    response = post(
        api, f"/api/v1/cases/{case.number}/consent", {"scope": "share", "granted": True, "method": "phone"}
    )
    assert response.status_code == 403
    assert post(api, f"/api/v1/cases/{case.number}/content", [{"label": "p", "md5": MD5}]).status_code == 201
    assert post(api, "/api/v1/cases", {}).status_code == 403


def test_reading_contact_details_is_audited(case: Case, colleague: Persona) -> None:
    response = colleague.api().get(f"/api/v1/cases/{case.number}/contact")
    assert response.status_code == 200
    assert response.json()["contact"] == "010-1234-5678, text only after 6 pm"
    event = AuditEvent.objects.filter(event_type=EventType.CONTACT_VIEWED).get()
    assert event.actor == colleague.user
    assert "010" not in json.dumps(event.summary)


def test_contact_details_are_stored_encrypted(case: Case) -> None:
    raw = bytes(Case.objects.values_list("contact_encrypted", flat=True).get(pk=case.pk))
    assert b"010-1234" not in raw
    assert len(raw) > 32


def test_consent_withdrawal_stops_lookups_at_once(case: Case, counsellor: Persona) -> None:
    api = counsellor.api()
    consent = f"/api/v1/cases/{case.number}/consent"
    assert post(api, consent, {"scope": "monitor", "granted": True, "method": "in_person"}).status_code == 201
    post(api, f"/api/v1/cases/{case.number}/content", [{"label": "photo 1", "pdq": PDQ, "md5": MD5}])
    hits = post(api, "/api/v1/lookup", {"pdq": [NEAR], "md5": [MD5]}).json()
    assert {(h["query_kind"], h["distance"]) for h in hits} == {("pdq", 3), ("md5", 0)}
    response = post(
        api, consent, {"scope": "monitor", "granted": False, "method": "phone", "note": "asked by phone"}
    )
    assert response.status_code == 201
    assert response.json()["consent"]["monitor"] is False
    assert post(api, "/api/v1/lookup", {"pdq": [NEAR], "md5": [MD5]}).json() == []
    history = api.get(consent).json()
    assert [(r["scope"], r["granted"]) for r in history] == [("monitor", True), ("monitor", False)]
    assert AuditEvent.objects.filter(event_type=EventType.CONSENT_WITHDRAWN).count() == 1


def test_hashes_added_without_monitoring_consent_do_not_match(case: Case, counsellor: Persona) -> None:
    api = counsellor.api()
    post(api, f"/api/v1/cases/{case.number}/content", [{"label": "photo 1", "pdq": PDQ}])
    assert post(api, "/api/v1/lookup", {"pdq": [PDQ]}).json() == []
    post(
        api, f"/api/v1/cases/{case.number}/consent", {"scope": "monitor", "granted": True, "method": "phone"}
    )
    assert len(post(api, "/api/v1/lookup", {"pdq": [PDQ]}).json()) == 1


def test_removed_content_stops_matching(case: Case, counsellor: Persona) -> None:
    api = counsellor.api()
    post(
        api, f"/api/v1/cases/{case.number}/consent", {"scope": "monitor", "granted": True, "method": "phone"}
    )
    item = post(api, f"/api/v1/cases/{case.number}/content", [{"label": "photo", "pdq": PDQ}]).json()[0]
    assert api.delete(f"/api/v1/content/{item['id']}").status_code == 204
    assert post(api, "/api/v1/lookup", {"pdq": [PDQ]}).json() == []
    assert api.get(f"/api/v1/cases/{case.number}/content").json() == []
    assert api.delete(f"/api/v1/content/{item['id']}").status_code == 404


@pytest.mark.parametrize(
    "payload",
    [
        [{"label": "x", "pdq": "abc"}],
        [{"label": "x", "pdq": "z" * 64}],
        [{"label": "x", "md5": "0" * 31}],
        [{"label": "x"}],
        [{"label": "", "pdq": PDQ}],
        [{"label": "x", "pdq": PDQ, "quality": 101}],
        [{"label": "x", "pdq": PDQ, "pdq_dihedral": [PDQ]}],
        [{"label": "ok", "pdq": PDQ}, {"label": "bad", "sha256": "nothex"}],
        {"label": "not a list"},
    ],
)
def test_malformed_content_is_refused_and_nothing_is_added(
    case: Case, counsellor: Persona, payload: object
) -> None:
    response = post(counsellor.api(), f"/api/v1/cases/{case.number}/content", payload)
    assert response.status_code in (400, 422), response.content
    assert "detail" in response.json()
    assert ContentItem.objects.count() == 0


def test_malformed_json_is_a_clear_client_error(case: Case, counsellor: Persona) -> None:
    response = counsellor.api().post(
        f"/api/v1/cases/{case.number}/content", data="{not json", content_type="application/json"
    )
    assert response.status_code in (400, 422)
    assert ContentItem.objects.count() == 0


def test_wrong_hex_in_a_lookup_is_refused(counsellor: Persona) -> None:
    response = post(counsellor.api(), "/api/v1/lookup", {"pdq": ["xyz"]})
    assert response.status_code == 422
    assert post(counsellor.api(), "/api/v1/lookup", {"pdq": [PDQ], "radius": 65}).status_code == 422


def test_status_changes_follow_the_workflow(case: Case, counsellor: Persona) -> None:
    api = counsellor.api()
    url = f"/api/v1/cases/{case.number}/status"
    assert post(api, url, {"status": "monitoring"}).status_code == 422  # intake -> monitoring is not allowed
    assert post(api, url, {"status": "active"}).json()["status"] == "active"
    assert post(api, url, {"status": "closed"}).json()["status"] == "closed"
    assert post(api, url, {"status": "active"}).json()["status"] == "active"  # reopen
    assert post(api, url, {"status": "bogus"}).status_code == 422


def test_updates_change_only_what_is_given_and_are_audited(case: Case, colleague: Persona) -> None:
    response = colleague.api().patch(
        f"/api/v1/cases/{case.number}",
        data=json.dumps({"tfgbv_type": "sextortion", "assignee": "colleague"}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["tfgbv_type"] == "sextortion"
    assert body["assignee"] == "colleague"
    assert body["platforms"] == "example-forum"
    event = AuditEvent.objects.filter(event_type=EventType.CASE_UPDATED).get()
    assert event.summary == {"fields": ["assignee", "tfgbv_type"]}


def test_cases_cannot_be_assigned_outside_the_organisation(counsellor: Persona, outsider: Persona) -> None:
    response = post(counsellor.api(), "/api/v1/cases", {"assignee": "outsider"})
    assert response.status_code == 422
    assert Case.objects.count() == 0


@pytest.mark.parametrize(
    ("url_suffix", "payload"),
    [
        ("/content", [{"label": "photo\x00", "md5": MD5}]),
        ("/consent", {"scope": "share", "granted": True, "method": "phone", "note": "a\x00b"}),
    ],
)
def test_nul_characters_are_refused_on_every_database(
    case: Case, counsellor: Persona, url_suffix: str, payload: object
) -> None:
    # PostgreSQL cannot store NUL in text; SQLite can. Both must answer with the same clear error.
    response = post(counsellor.api(), f"/api/v1/cases/{case.number}{url_suffix}", payload)
    assert response.status_code == 422, response.content
    assert ContentItem.objects.count() == 0


def test_nul_characters_in_case_fields_are_refused(counsellor: Persona) -> None:
    response = post(counsellor.api(), "/api/v1/cases", {"platforms": "forum\x00"})
    assert response.status_code == 422
    assert Case.objects.count() == 0
