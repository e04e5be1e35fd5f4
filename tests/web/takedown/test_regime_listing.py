"""Every legal regime, listed the same way by ``GET /api/v1/regimes`` and ``haven regimes``: its
country, who it may be sent to, its deadline, its languages, the elements a notice must hold and
where to turn when the recipient refuses."""

from __future__ import annotations

import json

import pytest

from haven.cli import main
from haven.web.takedown import regimes
from tests.web.conftest import Persona


def test_the_api_lists_every_regime_with_what_it_requires(officer: Persona) -> None:
    response = officer.api().get("/api/v1/regimes")
    assert response.status_code == 200
    listed = {r["code"]: r for r in response.json()}
    assert set(listed) == set(regimes.REGIMES)
    for code, regime in regimes.REGIMES.items():
        row = listed[code]
        assert [e["element"] for e in row["required"]] == list(regime.required)
        assert all(e["label"] for e in row["required"])
        assert row["deadline_hours"] == regime.deadline_hours
        assert row["languages"] == ["en", "ko"]
        assert row["recipients"]
        assert set(row["recipients"]) <= set(regimes.RECIPIENTS)
        assert row["escalation"]
    assert listed["take_it_down"]["country"] == "US"
    assert listed["take_it_down"]["deadline_hours"] == 48
    assert listed["kr_deletion"]["country"] == "KR"
    assert listed["dsa"]["country"] == "EU"
    assert listed["policy"]["country"] == ""  # the platform's own rules, anywhere
    assert listed["search_pi_removal"]["recipients"] == ["search_engine"]
    assert listed["search_pi_removal"]["via_web_form"] is True
    assert "Art. 77" in listed["gdpr_erasure"]["escalation"]


def test_the_listing_is_in_the_asker_s_language(officer: Persona) -> None:
    korean = officer.api().get("/api/v1/regimes", headers={"Accept-Language": "ko"}).json()
    dsa = next(r for r in korean if r["code"] == "dsa")
    assert "디지털서비스" in dsa["name"] or "디지털 서비스" in dsa["name"]
    assert dsa["required"][0]["element"] == "urls"  # codes stay as they are


@pytest.mark.parametrize("persona", ["reviewer", "analyst", "anonymous"])
def test_only_takedown_staff_may_list_them(persona: str, request: pytest.FixtureRequest) -> None:
    from django.test import Client

    if persona == "anonymous":
        assert Client().get("/api/v1/regimes").status_code == 401
        return
    user: Persona = request.getfixturevalue(persona)
    assert user.api().get("/api/v1/regimes").status_code == 403


def test_the_command_prints_the_same_list(officer: Persona, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["regimes", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == officer.api().get("/api/v1/regimes", headers={"Accept-Language": "en"}).json()
    assert main(["regimes"]) == 0
    text = capsys.readouterr().out
    for code, regime in regimes.REGIMES.items():
        assert f"{code}: " in text
        assert f"  requires: {', '.join(regime.required)}" in text
    assert "deadline: 24 h" in text  # kr_deletion
    assert "through the platform's web form" in text  # search_pi_removal
