"""The API refuses what is not a request: a body that is not a JSON object, a field it does not
know, a hash with anything around it, a host no DNS server holds. Each refusal changes nothing."""

from __future__ import annotations

import json

import pytest

from haven.web.audit.models import AuditEvent
from haven.web.cases.models import Case, ContentItem
from haven.web.monitoring.models import MonitorSource
from haven.web.takedown.models import Sighting
from tests.web.conftest import Persona

PDQ = "f" * 64
MD5 = "0123456789abcdef0123456789abcdef"


def _nothing_changed(cases: int, events: int) -> bool:
    return Case.objects.count() == cases and AuditEvent.objects.count() == events


@pytest.mark.parametrize(
    ("body", "content_type", "status", "why"),
    [
        ("null", "application/json", 400, "not null"),
        ("123", "application/json", 400, "not a number"),
        ('"str"', "application/json", 400, "not a string"),
        ("true", "application/json", 400, "not true or false"),
        ("[1, 2]", "application/json", 422, "valid dictionary"),
        ('{"bogus": 1}', "application/json", 422, "bogus: Extra inputs are not permitted"),
        ('{"contact": "x", "tfgbv_typ": "threats"}', "application/json", 422, "tfgbv_typ"),
        ('{"contact": "x"}', "text/plain", 415, "application/json, not text/plain"),
        ("contact=x", "application/x-www-form-urlencoded", 415, "not application/x-www-form-urlencoded"),
        ('{"contact": ', "application/json", 400, "not valid JSON"),
    ],
)
def test_a_body_that_is_not_a_case_creates_nothing(
    counsellor: Persona, body: str, content_type: str, status: int, why: str
) -> None:
    cases, events = Case.objects.count(), AuditEvent.objects.count()
    response = counsellor.api().post("/api/v1/cases", data=body, content_type=content_type)
    assert response.status_code == status, response.content
    assert why in response.json()["detail"]
    assert _nothing_changed(cases, events)


def test_a_json_content_type_with_parameters_or_a_suffix_is_json(counsellor: Persona) -> None:
    for content_type in ("application/json; charset=utf-8", "application/vnd.haven+json"):
        response = counsellor.api().post("/api/v1/cases", data='{"contact": "x"}', content_type=content_type)
        assert response.status_code == 201, (content_type, response.content)


def test_an_unknown_field_in_a_list_body_is_named(counsellor: Persona, case: Case) -> None:
    body = [{"label": "a", "pdq": PDQ, "qualty": 90}]
    response = counsellor.api().post(
        f"/api/v1/cases/{case.number}/content", data=json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 422
    assert "qualty" in response.json()["detail"]
    assert not ContentItem.objects.filter(case=case).exists()


@pytest.mark.parametrize("spelling", [MD5 + "\n", " " + MD5, MD5 + " ", MD5 + "\r\n"])
def test_lookup_and_content_agree_on_what_a_hash_is(counsellor: Persona, case: Case, spelling: str) -> None:
    api = counsellor.api()
    added = api.post(
        f"/api/v1/cases/{case.number}/content",
        data=json.dumps([{"label": "a", "md5": spelling}]),
        content_type="application/json",
    )
    looked = api.post("/api/v1/lookup", data=json.dumps({"md5": [spelling]}), content_type="application/json")
    assert (added.status_code, looked.status_code) == (422, 422), (added.content, looked.content)
    for kind in ("pdq", "sha256"):
        response = api.post(
            "/api/v1/lookup", data=json.dumps({kind: [PDQ + "\n"]}), content_type="application/json"
        )
        assert response.status_code == 422, (kind, response.content)
    ok = api.post("/api/v1/lookup", data=json.dumps({"md5": [MD5]}), content_type="application/json")
    assert ok.status_code == 200, ok.content


HOSTS = [
    "http://999.999.999.999/",
    "https://xn--/",
    "https://xn--abc.example/",
    "http://0x7f000001/",
    "http://2130706433/",
    "http://0x08.0x08.0x08.0x08/",
    "http://134744072/",
]


@pytest.mark.parametrize("url", HOSTS)
def test_a_sighting_on_a_host_no_one_could_reach_is_refused(officer: Persona, case: Case, url: str) -> None:
    response = officer.api().post(
        f"/api/v1/cases/{case.number}/sightings",
        data=json.dumps({"urls": ["https://example.com/ok", url]}),
        content_type="application/json",
    )
    assert response.status_code == 422, response.content
    assert "Line 2" in response.json()["detail"]
    assert not Sighting.objects.exists()


@pytest.mark.parametrize("url", HOSTS)
def test_a_source_on_a_host_no_one_could_reach_is_refused(officer: Persona, url: str) -> None:
    for kind, target in (("crawl", url), ("urls", f"https://example.com/a\n{url}")):
        body = {"name": "Forum", "kind": kind, "target": target}
        response = officer.api().post(
            "/api/v1/sources", data=json.dumps(body), content_type="application/json"
        )
        assert response.status_code == 422, (kind, response.content)
    assert not MonitorSource.objects.exists()


@pytest.mark.parametrize(
    "path", ["/api/v1/lookup", "/api/v1/cases", "/api/stopncii/v1/SubmitFeedback", "/api/sharing/v1/opinions"]
)
def test_a_body_over_the_size_limit_is_a_json_413_on_every_api(counsellor: Persona, path: str) -> None:
    from django.conf import settings
    from django.test import Client

    body = json.dumps({"pdq": [PDQ] * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 60)})
    assert len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    cases, events = Case.objects.count(), AuditEvent.objects.count()
    response = Client(raise_request_exception=False).post(
        path, data=body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {counsellor.token}"
    )
    assert response.status_code == 413
    assert response["Content-Type"].startswith("application/json")
    assert "bytes" in response.json()["detail"]  # the limit, in words
    assert _nothing_changed(cases, events)


def test_too_many_query_fields_and_a_crash_are_json_too(counsellor: Persona) -> None:
    from django.http import HttpResponse, HttpResponseServerError
    from django.test import Client, RequestFactory

    from haven.web.core.middleware import ApiJsonErrorsMiddleware

    many = "&".join(f"f{i}=1" for i in range(2000))
    response = Client().get(f"/api/v1/cases?{many}", HTTP_AUTHORIZATION=f"Bearer {counsellor.token}")
    assert response.status_code == 400
    assert response.json() == {"detail": "at most 1000 query or form fields may be sent"}

    def crashed(request: object) -> HttpResponse:
        return HttpResponseServerError("<h1>Server Error (500)</h1>")

    answer = ApiJsonErrorsMiddleware(crashed)(RequestFactory().get("/api/v1/cases"))
    assert answer.status_code == 500
    assert json.loads(answer.content) == {"detail": "server error"}
    page = ApiJsonErrorsMiddleware(crashed)(RequestFactory().get("/cases/"))
    assert page["Content-Type"].startswith("text/html")  # pages keep their HTML


@pytest.mark.parametrize(
    "address",
    [
        "/api/v1/sightings?case=HV%00X",
        "/api/v1/sightings?x%00=1",
        "/api/v1/cases/HV-%00/",
        "/api/v1/cases?q=%00",
    ],
)
def test_a_nul_in_an_api_address_is_a_json_400_on_either_database(officer: Persona, address: str) -> None:
    # PostgreSQL refuses to compare text holding NUL; SQLite does not: both answer the same.
    events = AuditEvent.objects.count()
    response = officer.api().get(address)
    assert response.status_code == 400
    assert response.json() == {"detail": "the address must not contain NUL characters"}
    assert AuditEvent.objects.count() == events
