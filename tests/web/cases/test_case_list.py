"""The case list: sortable columns, search over what staff see, bulk assign and close, CSV export."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from haven.web.audit.models import AuditEvent, EventType
from haven.web.cases import actions
from haven.web.cases.models import Case, CaseStatus
from tests.web.accounts.twofactor import signed_in
from tests.web.conftest import Persona

pytestmark = pytest.mark.django_db


def _order(html: str, numbers: list[str]) -> list[str]:
    body = html.split("data-case-list")[1]
    return sorted(numbers, key=body.index)


def test_columns_sort_both_ways_and_say_so(counsellor: Persona) -> None:
    old = actions.create_case(actor=counsellor.user, tfgbv_type="synthetic_imagery")
    Case.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=3))
    new = actions.create_case(actor=counsellor.user, tfgbv_type="illegal_filming")
    client = signed_in(counsellor.user)
    url = reverse("cases:list")
    html = client.get(url).content.decode()
    assert _order(html, [old.number, new.number]) == [new.number, old.number]  # newest first
    assert 'aria-sort="descending"' in html
    html = client.get(url, {"sort": "opened"}).content.decode()
    assert _order(html, [old.number, new.number]) == [old.number, new.number]
    assert 'aria-sort="ascending"' in html
    html = client.get(url, {"sort": "type"}).content.decode()
    assert _order(html, [old.number, new.number]) == [new.number, old.number]  # illegal_… < synthetic_…
    # An unknown sort falls back to the default, never to a database error.
    assert client.get(url, {"sort": "contact_encrypted"}).status_code == 200


def test_search_finds_by_platform_and_colleague_but_not_by_encrypted_details(
    counsellor: Persona, colleague: Persona
) -> None:
    colleague.user.first_name = "Jiwoo"
    colleague.user.save()
    forum = actions.create_case(actor=counsellor.user, platforms="darkforum.example", contact="Kim Minji")
    theirs = actions.create_case(actor=colleague.user)
    client = signed_in(counsellor.user)
    url = reverse("cases:list")
    by_platform = client.get(url, {"q": "darkforum"}).content.decode()
    assert forum.number in by_platform
    assert theirs.number not in by_platform
    by_colleague = client.get(url, {"q": "jiwoo"}).content.decode()
    assert theirs.number in by_colleague
    assert forum.number not in by_colleague
    assert forum.number not in client.get(url, {"q": "Minji"}).content.decode()


def test_bulk_assign_and_close_act_on_the_ticked_cases_each_audited(
    counsellor: Persona, colleague: Persona, outsider: Persona
) -> None:
    one, two, three = (actions.create_case(actor=counsellor.user) for _ in range(3))
    foreign = actions.create_case(actor=outsider.user)
    client = signed_in(counsellor.user)
    response = client.post(
        reverse("cases:bulk"),
        {
            "case": [one.number, two.number, foreign.number],
            "do": "assign",
            "assignee": colleague.user.pk,
            "next": "/cases/?q=x",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/cases/?q=x"
    assert {c.number for c in Case.objects.filter(assignee=colleague.user)} == {one.number, two.number}
    assert Case.objects.get(pk=foreign.pk).assignee == outsider.user  # never another centre's
    assert AuditEvent.objects.filter(event_type=EventType.CASE_UPDATED).count() == 2

    client.post(reverse("cases:bulk"), {"case": [two.number, three.number], "do": "close"})
    assert set(Case.objects.filter(status=CaseStatus.CLOSED).values_list("number", flat=True)) == {
        two.number,
        three.number,
    }
    assert AuditEvent.objects.filter(event_type=EventType.CASE_STATUS_CHANGED).count() == 2


def test_bulk_actions_refuse_bad_requests_and_roles_that_may_not_edit(
    counsellor: Persona, officer: Persona, outsider: Persona
) -> None:
    case = actions.create_case(actor=counsellor.user)
    client = signed_in(counsellor.user)
    # Assigning needs someone to assign to; an outside address is not followed back.
    response = client.post(
        reverse("cases:bulk"), {"case": [case.number], "do": "assign", "next": "https://evil.example/"}
    )
    assert response["Location"] == "/cases/"
    client.post(reverse("cases:bulk"), {"case": [case.number], "do": "assign", "assignee": outsider.user.pk})
    client.post(reverse("cases:bulk"), {"case": [case.number], "do": "delete"})
    case.refresh_from_db()
    assert (case.assignee, case.status) == (counsellor.user, CaseStatus.INTAKE)
    response = signed_in(officer.user).post(reverse("cases:bulk"), {"case": [case.number], "do": "close"})
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(
        event_type__in=[EventType.CASE_UPDATED, EventType.CASE_STATUS_CHANGED]
    ).exists()


def test_the_export_is_the_filtered_list_without_contact_details_and_audited(
    counsellor: Persona, outsider: Persona
) -> None:
    filming = actions.create_case(
        actor=counsellor.user, tfgbv_type="illegal_filming", platforms='=HYPERLINK("x")', contact="010-1234"
    )
    actions.create_case(actor=counsellor.user, tfgbv_type="synthetic_imagery")
    actions.create_case(actor=outsider.user, tfgbv_type="illegal_filming")
    response = signed_in(counsellor.user).get(reverse("cases:export"), {"tfgbv_type": "illegal_filming"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = response.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][0] == "Case number"
    assert [row[0] for row in rows[1:]] == [filming.number]
    assert rows[1][7] == '\'=HYPERLINK("x")'  # a formula is written as text
    assert "010-1234" not in text
    event = AuditEvent.objects.get(event_type=EventType.CASES_EXPORTED)
    assert event.summary == {"count": 1, "filters": ["tfgbv_type"], "sort": "-opened"}
    assert event.actor == counsellor.user


def test_only_roles_allowed_to_export_may(
    counsellor: Persona, officer: Persona, reviewer: Persona, analyst: Persona
) -> None:
    actions.create_case(actor=counsellor.user)
    for persona in (officer, reviewer, analyst):
        assert signed_in(persona.user).get(reverse("cases:export")).status_code == 403
        assert "Download as CSV" not in signed_in(persona.user).get(reverse("cases:list")).content.decode()
    assert "Download as CSV" in signed_in(counsellor.user).get(reverse("cases:list")).content.decode()
    assert not AuditEvent.objects.filter(event_type=EventType.CASES_EXPORTED).exists()


def test_a_printable_summary_leaves_out_the_contact_details_and_is_audited(
    counsellor: Persona, officer: Persona
) -> None:
    from pypdf import PdfReader

    case = actions.create_case(
        actor=counsellor.user, contact="010-9999-8888", notes="secret note", platforms="forum.example"
    )
    response = signed_in(counsellor.user).get(reverse("cases:summary_pdf", args=[case.number]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert case.number in text
    assert "forum.example" in text
    assert "010-9999-8888" not in text
    assert "secret note" not in text
    assert AuditEvent.objects.filter(event_type=EventType.CASE_PRINTED).get().actor == counsellor.user
    assert signed_in(officer.user).get(reverse("cases:summary_pdf", args=[case.number])).status_code == 403


@pytest.mark.parametrize(
    ("language", "font", "word"),
    [
        ("fr", "Helvetica", "Confidentiel"),
        ("ko", "HYSMyeongJo", None),
        ("zh-hans", "STSong", None),
        # No PDF font sets Arabic or Russian yet: their summaries are printed in English, not as boxes.
        ("ar", "Helvetica", "Confidential"),
        ("ru", "Helvetica", "Confidential"),
    ],
)
def test_the_summary_is_printed_in_a_font_with_the_page_language_script(
    counsellor: Persona, language: str, font: str, word: str | None
) -> None:
    from django.utils import translation
    from pypdf import PdfReader

    case = actions.create_case(actor=counsellor.user, platforms="forum.example")
    client = signed_in(counsellor.user)
    client.cookies["django_language"] = language
    with translation.override("en"):  # the request activates the cookie's language: leave none behind
        response = client.get(reverse("cases:summary_pdf", args=[case.number]))
    assert response.status_code == 200
    reader = PdfReader(io.BytesIO(response.content))
    fonts = {str(f["/BaseFont"]) for page in reader.pages for f in page["/Resources"]["/Font"].values()}
    assert any(font in f for f in fonts), fonts
    text = "".join(page.extract_text() for page in reader.pages)
    assert case.number in text
    if word is None:  # the title, in the page's language and script
        with translation.override(language):
            word = translation.gettext("Case %(number)s") % {"number": case.number}
    assert word in text
