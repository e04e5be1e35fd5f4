"""Monitoring over the JSON API: sources, runs, the review queue and decisions, and who may do which."""

from __future__ import annotations

import pytest
from PIL import Image

from haven.web.accounts.models import Organisation
from haven.web.accounts.roles import Role
from haven.web.audit.models import AuditEvent
from haven.web.cases.models import Case
from haven.web.monitoring import actions
from haven.web.monitoring.models import Candidate, MonitorSource, ScanRun
from haven.web.takedown.models import Sighting
from tests.scan.site import TestSite
from tests.web.conftest import Persona, _persona

from .test_monitoring import _site, monitored

pytestmark = pytest.mark.usefixtures("loopback")

__all__ = ["monitored"]


def _create(persona: Persona, **body: object) -> tuple[int, dict[str, object]]:
    r = persona.api().post("/api/v1/sources", body, content_type="application/json")
    return r.status_code, r.json()


def test_an_officer_adds_a_source_runs_it_and_reads_the_run(
    site: TestSite, monitored: Case, officer: Persona, photo: Image.Image
) -> None:
    start = _site(site, photo, "/a1")
    status, source = _create(officer, name="Forum", kind="crawl", target=start, depth=1, every_hours=12)
    assert status == 201, source
    assert source["kind"] == "crawl"
    assert source["next_run_at"] is not None
    assert [s["id"] for s in officer.api().get("/api/v1/sources").json()] == [source["id"]]

    r = officer.api().post(f"/api/v1/sources/{source['id']}/runs")
    assert r.status_code == 201
    run = r.json()
    assert run["status"] == "queued"
    actions.execute_run(ScanRun.objects.get(pk=run["id"]))
    done = officer.api().get(f"/api/v1/runs/{run['id']}").json()
    assert done["status"] == "done", done["failure"]
    assert done["candidates"] == 1
    assert done["stats"]["pages"] == 3

    r = officer.api().put(
        f"/api/v1/sources/{source['id']}",
        {"name": "Forum (paused)", "kind": "crawl", "target": start, "active": False},
        content_type="application/json",
    )
    assert r.status_code == 200
    assert r.json()["active"] is False
    assert r.json()["next_run_at"] is None


def test_a_reviewer_confirms_and_rejects_over_the_api(
    site: TestSite,
    monitored: Case,
    officer: Persona,
    reviewer: Persona,
    photo: Image.Image,
    platform: object,
) -> None:
    _create(officer, name="Forum", kind="crawl", target=_site(site, photo, "/a2"))
    actions.execute_run(actions.queue_run(actor=officer.user, source=MonitorSource.objects.get()))
    queue = reviewer.api().get("/api/v1/candidates").json()
    assert len(queue) == 1
    assert queue[0]["case"] == monitored.number
    assert queue[0]["state"] == "pending"
    assert len(queue[0]["pdq"]) == 64

    r = reviewer.api().post(
        f"/api/v1/candidates/{queue[0]['id']}/decision",
        {"decision": "confirm"},
        content_type="application/json",
    )
    assert r.status_code == 200, r.json()
    assert r.json()["state"] == "confirmed"
    sighting = Sighting.objects.get(pk=r.json()["sighting"])
    assert sighting.source == "monitoring"
    assert reviewer.api().get("/api/v1/candidates").json() == []
    assert [c["id"] for c in reviewer.api().get("/api/v1/candidates?state=confirmed").json()] == [
        queue[0]["id"]
    ]

    # A decision is taken once: a second one is refused and changes nothing.
    r = reviewer.api().post(
        f"/api/v1/candidates/{queue[0]['id']}/decision",
        {"decision": "reject"},
        content_type="application/json",
    )
    assert r.status_code == 422
    assert "already" in r.json()["detail"]
    assert Candidate.objects.get().state == "confirmed"


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "kind": "crawl", "target": "file:///etc/passwd"},
        {"name": "x", "kind": "crawl", "target": "http://10.0.0.1/"},
        {"name": "x", "kind": "crawl", "target": "http://192.168.1.1/admin"},
        {"name": "x", "kind": "urls", "target": "https://ok.example/\nhttp://user:pw@ok.example/"},
        {"name": "x", "kind": "gopher", "target": "https://ok.example/"},
        {"name": "", "kind": "crawl", "target": "https://ok.example/"},
        {"name": "x", "kind": "crawl", "target": "https://ok.example/", "depth": 99},
        {"name": "x\x00", "kind": "crawl", "target": "https://ok.example/"},
    ],
)
def test_bad_sources_are_refused_with_a_clear_error_and_change_nothing(
    officer: Persona, body: dict[str, object]
) -> None:
    events = AuditEvent.objects.count()
    status, answer = _create(officer, **body)
    assert status in (400, 422), answer
    assert answer["detail"]
    assert MonitorSource.objects.count() == 0
    assert AuditEvent.objects.count() == events


def test_malformed_json_is_refused(officer: Persona) -> None:
    r = officer.api().post("/api/v1/sources", "{not json", content_type="application/json")
    assert r.status_code in (400, 422)
    assert "detail" in r.json()
    assert MonitorSource.objects.count() == 0


def test_who_may_use_which_endpoint(
    site: TestSite,
    monitored: Case,
    officer: Persona,
    reviewer: Persona,
    analyst: Persona,
    org_b: Organisation,
    photo: Image.Image,
) -> None:
    _status, source = _create(officer, name="Forum", kind="crawl", target=_site(site, photo, "/a3"))
    run = actions.queue_run(actor=officer.user, source=MonitorSource.objects.get())
    actions.execute_run(run)
    candidate = Candidate.objects.get()

    # Reviewers review but do not manage sources; analysts do neither.
    assert reviewer.api().get("/api/v1/sources").status_code == 403
    assert reviewer.api().post(f"/api/v1/sources/{source['id']}/runs").status_code == 403
    assert analyst.api().get("/api/v1/candidates").status_code == 403
    r = analyst.api().post(
        f"/api/v1/candidates/{candidate.pk}/decision", {"decision": "reject"}, content_type="application/json"
    )
    assert r.status_code == 403

    # Another organisation's deletion officer sees none of it and changes none of it.
    api = _persona("outside-officer", org_b, Role.DELETION_OFFICER).api()
    assert api.get("/api/v1/sources").json() == []
    assert api.get("/api/v1/candidates").json() == []
    assert api.get(f"/api/v1/runs/{run.pk}").status_code == 404
    assert api.post(f"/api/v1/sources/{source['id']}/runs").status_code == 404
    r = api.put(
        f"/api/v1/sources/{source['id']}",
        {"name": "mine now", "kind": "crawl", "target": "https://ok.example/"},
        content_type="application/json",
    )
    assert r.status_code == 404
    r = api.post(
        f"/api/v1/candidates/{candidate.pk}/decision", {"decision": "reject"}, content_type="application/json"
    )
    assert r.status_code == 404
    assert Candidate.objects.get().state == "pending"
    assert MonitorSource.objects.get().name == "Forum"
    assert ScanRun.objects.count() == 1
