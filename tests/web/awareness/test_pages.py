"""The awareness pages: public and traceless, built-in in every language, rewritten by a centre's
administrators (sanitised, previewed, every revision kept, audited), campaign banners by date, and
the poster with its QR code.  Who may do what, and that bad input changes nothing."""

from __future__ import annotations

import datetime
import io
import re
import zoneinfo
from collections.abc import Callable
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from pypdf import PdfReader

from haven.web.accounts.models import Organisation
from haven.web.audit.models import AuditEvent, EventType
from haven.web.awareness import actions
from haven.web.awareness.content import built_in
from haven.web.awareness.markup import render
from haven.web.awareness.models import MAX_BODY, Campaign, Revision, Topic
from haven.web.core.errors import ActionError
from tests.web.accounts.twofactor import signed_in
from tests.web.conftest import Persona

pytestmark = pytest.mark.django_db

LANGS = [code for code, _name in settings.LANGUAGES]
ClientOf = Callable[[Persona], Client]


@pytest.fixture
def client_of() -> ClientOf:
    return lambda persona: signed_in(persona.user)


def _public(org: Organisation, topic: str | None = None, lang: str = "en") -> str:
    url = reverse("learn:page", args=[org.slug, topic]) if topic else reverse("learn:index", args=[org.slug])
    return f"{url}?lang={lang}"


def _no_trace(response: object) -> None:
    assert not response.cookies  # type: ignore[attr-defined]
    assert "Set-Cookie" not in response.headers  # type: ignore[attr-defined]
    assert response["Referrer-Policy"] == "no-referrer"  # type: ignore[index]
    assert "no-store" in response["Cache-Control"]  # type: ignore[index]


# ---- public pages -------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_every_page_is_public_in_every_language_and_leaves_no_trace(org_a: Organisation, lang: str) -> None:
    client = Client()
    for topic in [None, *Topic.values]:
        response = client.get(_public(org_a, topic, lang))
        assert response.status_code == 200, (topic, lang)
        assert response["Content-Language"] == lang
        assert f'<html lang="{lang}"' in response.content.decode()
        _no_trace(response)
    assert not client.cookies


@pytest.mark.parametrize("lang", [code for code in LANGS if code != "en"])
def test_the_built_in_text_is_translated_into_every_language(org_a: Organisation, lang: str) -> None:
    """No paragraph of a built-in page is left in English (the catalogue test checks each message;
    this checks that the pages are made of catalogue messages)."""
    with translation.override("en"):
        english = {t: built_in(t, org_a) for t in Topic.values}
    with translation.override(lang):
        for topic in Topic.values:
            page = built_in(topic, org_a)
            assert page.title != english[topic].title
            for paragraph in english[topic].body.split("\n"):
                if len(paragraph) > 30 and "](" not in paragraph:
                    assert paragraph not in page.body, (lang, topic, paragraph)


def test_a_single_centre_install_opens_on_its_own_pages(org_a: Organisation) -> None:
    response = Client().get(reverse("learn:centres"))
    assert response.status_code == 200
    assert reverse("learn:page", args=[org_a.slug, Topic.HASHING]) in response.content.decode()


def test_with_several_centres_the_visitor_chooses_one(org_a: Organisation, org_b: Organisation) -> None:
    html = Client().get(reverse("learn:centres") + "?lang=ko").content.decode()
    assert reverse("learn:index", args=[org_a.slug]) in html
    assert reverse("learn:index", args=[org_b.slug]) in html


@pytest.mark.parametrize(
    "url",
    ["/portal/learn/no-such-centre/", "/portal/learn/centre-a/no-such-page/", "/portal/learn/centre-a/x/y/"],
)
def test_unknown_centres_and_pages_are_404_without_a_cookie(org_a: Organisation, url: str) -> None:
    response = Client().get(url)
    assert response.status_code == 404
    assert not response.cookies


def test_the_law_page_names_the_laws_of_the_centre_country(org_a: Organisation, org_b: Organisation) -> None:
    korea = Client().get(_public(org_a, Topic.LAW)).content.decode()
    germany = Client().get(_public(org_b, Topic.LAW)).content.decode()
    assert "Sexual Violence Prevention Act" in korea
    assert "24 hours" in korea
    assert "Digital Services Act" not in korea
    assert "Digital Services Act" in germany
    assert "GDPR" in germany
    assert "Sexual Violence Prevention Act" not in germany


def test_the_landing_page_links_to_the_awareness_pages(org_a: Organisation) -> None:
    assert reverse("learn:centres") in Client().get("/portal/?lang=fr").content.decode()


# ---- Markdown -----------------------------------------------------------------------------------


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


@pytest.mark.parametrize(
    "markdown",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "[click](data:text/html;base64,PHNjcmlwdD4=)",
        "[click](vbscript:msgbox(1))",
        "![a picture](https://tracker.example/pixel.gif)",
        '<a href="https://x.example" onclick="steal()">x</a>',
        "<iframe src='https://x.example'></iframe>",
        "<style>body{display:none}</style>",
        '[x](https://x.example "t" onmouseover=alert(1))',
        "<svg onload=alert(1)>",
        "[x]: javascript:alert(1)\n\n[y][x]",
    ],
)
def test_markdown_from_the_editor_cannot_carry_script_pictures_or_styles(markdown: str) -> None:
    parser = _Elements()
    parser.feed(render(markdown))
    for tag, attrs in parser.found:
        assert tag in {"p", "a", "h2", "ul", "li", "strong", "em", "br"}, tag
        assert not any(name.startswith("on") or name in {"style", "src"} for name in attrs), attrs
        if tag == "a":
            assert str(attrs.get("href", "")).startswith(("https://", "http://", "mailto:", "tel:", "/"))


def test_markdown_keeps_what_a_page_of_text_needs() -> None:
    html = render("# Help\n\nSome **bold** and *italic*.\n\n- one\n- two\n\n[Call us](tel:+82212345678)")
    assert "<h2>Help</h2>" in html  # the page title is the only h1
    assert "<strong>bold</strong>" in html
    assert "<em>italic</em>" in html
    assert "<li>one</li>" in html
    assert 'href="tel:+82212345678"' in html
    assert 'rel="noopener noreferrer nofollow"' in html


# ---- editing ------------------------------------------------------------------------------------


def test_an_admin_publishes_a_page_in_one_language_and_only_that_one_changes(
    admin: Persona, org_a: Organisation, client_of: ClientOf
) -> None:
    client = client_of(admin)
    url = reverse("awareness:edit", args=[Topic.HELP, "es"])
    page = client.get(url).content.decode()
    assert "Puedes retirar tu consentimiento" in page or "retirar" in page  # the built-in text, in Spanish
    response = client.post(url, {"title": "Cómo ayudamos", "body": "## Llámanos\n\nAbierto **24 horas**."})
    assert response.status_code == 302
    spanish = Client().get(_public(org_a, Topic.HELP, "es")).content.decode()
    assert "<h1>Cómo ayudamos</h1>" in spanish
    assert "<strong>24 horas</strong>" in spanish
    english = Client().get(_public(org_a, Topic.HELP, "en")).content.decode()
    assert "Cómo ayudamos" not in english
    assert "How the centre helps" in english
    event = AuditEvent.objects.get(event_type=EventType.AWARENESS_PAGE_SAVED)
    assert event.summary["topic"] == Topic.HELP
    assert event.summary["language"] == "es"


def test_preview_shows_the_sanitised_page_and_saves_nothing(admin: Persona, client_of: ClientOf) -> None:
    client = client_of(admin)
    url = reverse("awareness:edit", args=[Topic.ABUSE, "en"])
    response = client.post(
        url, {"title": "T", "body": "Hello **there**<script>x()</script>", "do": "preview"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    preview = html.split('id="preview"')[1]
    assert "<strong>there</strong>" in preview
    assert "<script>x()" not in preview
    assert not Revision.objects.exists()
    assert not AuditEvent.objects.filter(event_type=EventType.AWARENESS_PAGE_SAVED).exists()


def test_every_revision_is_kept_and_an_earlier_one_can_be_published_again(
    admin: Persona, org_a: Organisation, client_of: ClientOf
) -> None:
    first = actions.save_page(actor=admin.user, topic=Topic.HASHING, language="en", title="One", body="first")
    actions.save_page(actor=admin.user, topic=Topic.HASHING, language="en", title="Two", body="second")
    assert "second" in Client().get(_public(org_a, Topic.HASHING)).content.decode()
    client = client_of(admin)
    assert client.post(reverse("awareness:restore", args=[first.pk])).status_code == 302
    assert Revision.objects.filter(topic=Topic.HASHING).count() == 3  # the history only grows
    shown = Client().get(_public(org_a, Topic.HASHING)).content.decode()
    assert "<h1>One</h1>" in shown
    assert "first" in shown
    history = client.get(reverse("awareness:edit", args=[Topic.HASHING, "en"])).content.decode()
    assert history.count("Publish this revision again") == 2


def test_an_empty_text_puts_the_built_in_page_back(admin: Persona, org_a: Organisation) -> None:
    actions.save_page(actor=admin.user, topic=Topic.LAW, language="en", title="Ours", body="Our own words")
    actions.save_page(actor=admin.user, topic=Topic.LAW, language="en", title="", body="")
    html = Client().get(_public(org_a, Topic.LAW)).content.decode()
    assert "Our own words" not in html
    assert "The law where the centre works" in html


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"topic": "no-such-page"}, "Unknown page."),
        ({"language": "xx"}, "Unknown language."),
        ({"body": "x" * (MAX_BODY + 1)}, "at most"),
        ({"title": "t" * 201}, "at most"),
        ({"body": "a\x00b"}, "cannot be saved"),
    ],
)
def test_bad_pages_are_refused_and_change_nothing(admin: Persona, kwargs: dict[str, str], error: str) -> None:
    args = {"topic": Topic.HELP, "language": "en", "title": "T", "body": "B", **kwargs}
    with pytest.raises(ActionError, match=error):
        actions.save_page(actor=admin.user, **args)
    assert not Revision.objects.exists()
    assert not AuditEvent.objects.filter(event_type=EventType.AWARENESS_PAGE_SAVED).exists()


def test_saving_the_same_text_twice_is_refused(admin: Persona) -> None:
    actions.save_page(actor=admin.user, topic=Topic.HELP, language="en", title="T", body="B")
    with pytest.raises(ActionError, match="Nothing changed"):
        actions.save_page(actor=admin.user, topic=Topic.HELP, language="en", title="T", body="B")
    assert Revision.objects.count() == 1


def test_a_centre_pages_are_its_own(admin: Persona, org_a: Organisation, org_b: Organisation) -> None:
    actions.save_page(actor=admin.user, topic=Topic.HELP, language="en", title="A's", body="Centre A text")
    assert "Centre A text" in Client().get(_public(org_a, Topic.HELP)).content.decode()
    assert "Centre A text" not in Client().get(_public(org_b, Topic.HELP)).content.decode()


@pytest.mark.parametrize("persona", ["counsellor", "officer", "reviewer", "analyst"])
def test_only_administrators_edit_the_pages(
    persona: str, request: pytest.FixtureRequest, client_of: ClientOf
) -> None:
    user: Persona = request.getfixturevalue(persona)
    client = client_of(user)
    for url in (
        reverse("awareness:manage"),
        reverse("awareness:edit", args=[Topic.HELP, "en"]),
        reverse("awareness:poster") + "?lang=en",
    ):
        assert client.get(url).status_code == 403
    assert (
        client.post(
            reverse("awareness:edit", args=[Topic.HELP, "en"]), {"title": "x", "body": "y"}
        ).status_code
        == 403
    )
    assert not Revision.objects.exists()


def test_anonymous_visitors_are_sent_to_sign_in(db: None) -> None:
    response = Client().get(reverse("awareness:manage"))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_another_centre_cannot_restore_or_remove_our_rows(
    admin: Persona, outsider: Persona, org_b: Organisation, client_of: ClientOf
) -> None:
    outsider.user.role = "admin"
    outsider.user.save()
    revision = actions.save_page(actor=admin.user, topic=Topic.HELP, language="en", title="T", body="ours")
    today = timezone.localdate()
    campaign = actions.add_campaign(actor=admin.user, message="Ours", starts_on=today, ends_on=today)
    client = client_of(outsider)
    assert client.post(reverse("awareness:restore", args=[revision.pk])).status_code == 404
    assert client.post(reverse("awareness:remove_campaign", args=[campaign.pk])).status_code == 404
    assert Revision.objects.count() == 1
    assert Campaign.objects.filter(pk=campaign.pk).exists()
    assert "ours" not in Client().get(_public(org_b, Topic.HELP)).content.decode()


def test_the_editor_shows_every_page_in_every_language(admin: Persona, client_of: ClientOf) -> None:
    html = client_of(admin).get(reverse("awareness:manage")).content.decode()
    for topic in Topic.values:
        for lang in LANGS:
            assert reverse("awareness:edit", args=[topic, lang]) in html


@pytest.mark.parametrize(("topic", "lang"), [("no-such-page", "en"), (Topic.HELP, "xx")])
def test_the_editor_answers_404_for_unknown_pages(
    admin: Persona, client_of: ClientOf, topic: str, lang: str
) -> None:
    assert client_of(admin).get(reverse("awareness:edit", args=[topic, lang])).status_code == 404


# ---- campaigns ----------------------------------------------------------------------------------


def test_a_campaign_banner_shows_between_its_dates_in_the_centre_time_zone(
    admin: Persona, org_a: Organisation, client_of: ClientOf
) -> None:
    seoul = timezone.now().astimezone(zoneinfo.ZoneInfo(org_a.time_zone)).date()
    day = datetime.timedelta(days=1)
    response = client_of(admin).post(
        reverse("awareness:manage"),
        {
            "message": "16 Days of Activism: talk to us",
            "language": "",
            "starts_on": seoul,
            "ends_on": seoul + 15 * day,
        },
    )
    assert response.status_code == 302
    actions.add_campaign(
        actor=admin.user, message="Later one", starts_on=seoul + day, ends_on=seoul + 2 * day
    )
    actions.add_campaign(
        actor=admin.user, message="Korean only", starts_on=seoul, ends_on=seoul, language="ko"
    )
    english = Client().get(_public(org_a)).content.decode()
    assert "16 Days of Activism: talk to us" in english
    assert "Later one" not in english
    assert "Korean only" not in english
    korean = Client().get(_public(org_a, Topic.HELP, "ko")).content.decode()
    assert "Korean only" in korean
    assert "16 Days of Activism" in korean
    assert AuditEvent.objects.filter(event_type=EventType.AWARENESS_CAMPAIGN_ADDED).count() == 3


@pytest.mark.parametrize(
    ("days", "message", "error"),
    [((3, 1), "x", "before the first day"), ((0, 400), "x", "at most a year"), ((0, 1), "   ", "message")],
)
def test_bad_campaigns_are_refused(admin: Persona, days: tuple[int, int], message: str, error: str) -> None:
    today = timezone.localdate()
    start, end = (today + datetime.timedelta(days=d) for d in days)
    with pytest.raises(ActionError, match=error):
        actions.add_campaign(actor=admin.user, message=message, starts_on=start, ends_on=end)
    assert not Campaign.objects.exists()


def test_removing_a_campaign_takes_the_banner_down_and_is_audited(
    admin: Persona, org_a: Organisation, client_of: ClientOf
) -> None:
    today = timezone.now().date()
    campaign = actions.add_campaign(
        actor=admin.user,
        message="Gone soon",
        starts_on=today - datetime.timedelta(days=1),
        ends_on=today + datetime.timedelta(days=1),
    )
    assert "Gone soon" in Client().get(_public(org_a)).content.decode()
    assert client_of(admin).post(reverse("awareness:remove_campaign", args=[campaign.pk])).status_code == 302
    assert "Gone soon" not in Client().get(_public(org_a)).content.decode()
    assert AuditEvent.objects.filter(event_type=EventType.AWARENESS_CAMPAIGN_REMOVED).count() == 1


# ---- poster -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "made_in"), [("en", "en"), ("ko", "ko"), ("zh-hans", "zh-hans"), ("ar", "en")]
)
def test_the_poster_links_to_the_portal_in_its_language(
    admin: Persona, org_a: Organisation, client_of: ClientOf, lang: str, made_in: str
) -> None:
    org_a.phone = "02-817-7959"
    org_a.save()
    response = client_of(admin).get(reverse("awareness:poster") + f"?lang={lang}")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    assert len(reader.pages) == 1
    text = re.sub(r"\s+", " ", reader.pages[0].extract_text())
    assert f"http://testserver/portal/?lang={made_in}" in text
    assert "02-817-7959" in text
    with translation.override(made_in):
        assert gettext("Scan the code with your phone's camera, or type:").replace(" ", "") in text.replace(
            " ", ""
        )
    # the code is drawn as vector squares: many filled rectangles, not an embedded picture
    content = reader.pages[0].get_contents().get_data()
    assert content.count(b" re") > 200
    assert not reader.pages[0].images


def test_the_poster_refuses_an_unknown_language(admin: Persona, client_of: ClientOf) -> None:
    assert client_of(admin).get(reverse("awareness:poster") + "?lang=xx").status_code == 404
