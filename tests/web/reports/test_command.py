"""`haven report`: the same figures as the page, as CSV, JSON or PDF, and clear errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from django.utils import translation

from haven.cli import main
from haven.web.accounts.models import Organisation
from haven.web.audit.models import AuditEvent, EventType
from haven.web.reports.actions import rules
from haven.web.reports.standard import make_report


@pytest.mark.usefixtures("history")
def test_the_command_prints_what_the_page_shows(
    org_a: Organisation, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["report", "gbvims-monthly", "--org", "centre-a", "--period", "2025-03", "--format", "json"])
        == 0
    )
    printed = json.loads(capsys.readouterr().out)
    with translation.override("en"):  # the command's default, whatever an earlier test left active
        same = make_report(org_a, "gbvims-monthly", "2025-03", {}, rules()).as_dict()
    assert [t["rows"] for t in printed["tables"]] == [t["rows"] for t in same["tables"]]
    assert (
        main(["report", "acosav-yearly", "--org", "centre-a", "--period", "2025", "--filter", "age=18-25"])
        == 0
    )
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["filters"] for r in rows} == {"Age=18–25"}
    event = AuditEvent.objects.filter(event_type=EventType.REPORT_PRODUCED).last()
    assert event is not None
    assert event.actor_label == "cli"
    assert event.summary["format"] == "csv"


@pytest.mark.usefixtures("history")
def test_a_korean_pdf_is_written_to_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.pdf"
    argv = ["report", "acosav-yearly", "--org", "centre-a", "--period", "2025-Q4", "--format", "pdf"]
    assert main([*argv, "--language", "ko", "--out", str(out)]) == 0
    assert out.read_bytes().startswith(b"%PDF")
    assert "2025-Q4" in capsys.readouterr().out


@pytest.mark.usefixtures("org_a")
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["report", "nope", "--org", "centre-a", "--period", "2025"], "There is no report nope"),
        (["report", "acosav-yearly", "--org", "nowhere", "--period", "2025"], "no organisation 'nowhere'"),
        (["report", "acosav-yearly", "--org", "centre-a", "--period", "2025-13"], "is not a period"),
        (["report", "acosav-yearly", "--org", "centre-a", "--period", "last year"], "is not a period"),
        (
            ["report", "acosav-yearly", "--org", "centre-a", "--period", "2025", "--filter", "sex"],
            "key=value",
        ),
        (
            ["report", "acosav-yearly", "--org", "centre-a", "--period", "2025", "--filter", "sex=x"],
            "is not a value of sex",
        ),
        (
            [
                "report",
                "acosav-yearly",
                "--org",
                "centre-a",
                "--period",
                "2025",
                "--filter",
                "sex=male",
                "--filter",
                "age=61+",
            ],
            "one filter at a time",
        ),
        (
            ["report", "acosav-yearly", "--org", "centre-a", "--period", "2025", "--format", "pdf"],
            "needs --out",
        ),
    ],
)
def test_bad_arguments_say_what_is_wrong(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 1
    assert message in capsys.readouterr().err
    assert not AuditEvent.objects.filter(event_type=EventType.REPORT_PRODUCED).exists()
