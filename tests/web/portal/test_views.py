"""The portal's pages and endpoint: no cookies, clear refusals, lockouts that say nothing."""

from __future__ import annotations

import json
import math
import time
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from haven.signals import PdqHash
from haven.web.accounts.models import Organisation
from haven.web.cases.matching import ContentIndex
from haven.web.cases.models import Case, ContentItem
from haven.web.portal import actions
from haven.web.portal.views import MAX_BODY
from tests.web.accounts.twofactor import signed_in

from ..conftest import Persona
from .conftest import PDQ, item

pytestmark = pytest.mark.django_db

SUBMIT = "/portal/api/submit/"
STATUS = "/portal/status/"


def _post_json(client: Client, body: Any, **extra: Any) -> Any:
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(SUBMIT, data=data, content_type="application/json", **extra)


def _submit(client: Client, **body: Any) -> dict[str, str]:
    response = _post_json(client, {"items": [item()], "consents": {"monitor": True}, **body})
    assert response.status_code == 201, response.content
    answer: dict[str, str] = response.json()
    return answer


def _no_cookie(response: Any) -> None:
    assert not response.cookies
    assert "Set-Cookie" not in response.headers


def test_the_pages_are_named_and_routed() -> None:
    assert reverse("portal:landing") == "/portal/"
    assert reverse("portal:submit_api") == SUBMIT


@pytest.mark.parametrize("url", ["/portal/", "/portal/submit/", STATUS, "/portal/?lang=ko"])
def test_portal_pages_set_no_cookie_no_referrer_and_no_cache(org_a: Organisation, url: str) -> None:
    response = Client().get(url, HTTP_ACCEPT_LANGUAGE="ko")
    assert response.status_code == 200
    _no_cookie(response)
    assert response["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response["Cache-Control"]
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_posts_set_no_cookie_either(org_a: Organisation) -> None:
    client = Client(enforce_csrf_checks=True)
    answer = _submit(client)
    _no_cookie(_post_json(client, {"items": []}))
    response = client.post(STATUS, {"case_number": answer["case_number"], "pin": answer["pin"]})
    assert response.status_code == 200
    _no_cookie(response)
    _no_cookie(client.post(STATUS, {"case_number": "HV-AAAA-AAAA", "pin": "1"}))


@pytest.mark.parametrize(
    "url", ["/favicon.ico", "/portal/no-such-page/", "/portal/status/../../nothing", "/no-such-page/"]
)
def test_error_pages_set_no_cookie_for_a_visitor_who_sent_none(url: str) -> None:
    """A survivor's browser asks for /favicon.ico or a mistyped address: the 404 leaves no trace."""
    for client in (Client(), Client(enforce_csrf_checks=True)):
        response = client.get(url)
        assert response.status_code == 404
        _no_cookie(response)
        _no_cookie(client.post(url, {"x": "1"}))
    assert 'rel="icon"' in Client().get("/portal/").content.decode()  # so the browser need not ask


def test_no_answer_under_the_portal_sets_a_cookie_whatever_made_it() -> None:
    from django.http import HttpResponse
    from django.test import RequestFactory

    from haven.web.core.middleware import NoTraceMiddleware

    def answer(status: int) -> Any:
        def view(request: Any) -> HttpResponse:
            response = HttpResponse(status=status)
            response.set_cookie("csrftoken", "x")
            return response

        return NoTraceMiddleware(view)

    requests = RequestFactory()
    for status in (200, 302, 403, 500):
        assert not answer(status)(requests.get("/portal/status/")).cookies
    # Elsewhere: a cookie-less visitor's error pages set none; pages and signed-in staff are as before.
    assert not answer(500)(requests.get("/cases/")).cookies
    assert answer(200)(requests.get("/accounts/login/")).cookies
    staff = requests.get("/cases/999/")
    staff.COOKIES = {"sessionid": "s"}
    assert answer(404)(staff).cookies


def test_the_language_follows_the_lang_parameter_then_accept_language(org_a: Organisation) -> None:
    korean = Client().get("/portal/", HTTP_ACCEPT_LANGUAGE="ko")
    assert '<html lang="ko" dir="ltr">' in korean.content.decode()
    assert "빠른 나가기" in korean.content.decode()
    english = Client().get("/portal/?lang=en", HTTP_ACCEPT_LANGUAGE="ko")
    assert '<html lang="en" dir="ltr">' in english.content.decode()
    assert "Quick exit" in english.content.decode()
    assert "?lang=en" in english.content.decode()


def test_the_landing_page_shows_the_child_protection_route(db: None) -> None:
    page = Client().get("/portal/").content.decode()
    assert "under 18" in page
    assert "police emergency number" in page


def test_a_submission_answers_with_the_case_number_and_pin(org_a: Organisation) -> None:
    answer = _submit(Client(), contact="text only")
    case = Case.objects.get()
    assert answer["case_number"] == case.number
    assert actions.check_access(case_number=case.number, pin=answer["pin"], client="t") == case
    assert ContentItem.objects.get().label == "photo 1"


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        b"\xff\xfe",
        "[1, 2]",
        {"items": [item(pdq="zz" * 32)]},
        {"items": [item()] * 21},
        {"items": [item()], "contact": "a\x00b"},
        {"items": [item(md5="\x00" * 32)]},
        {"items": [item()], "consents": {"police": True}},
        {"items": [item()], "organisation": 999999},
        {"items": [item()], "organisation": True},
        {"items": [item()], "organisation": "1"},
        {"items": [item()], "minor": "yes"},
    ],
)
def test_bad_submissions_get_a_clear_4xx_and_create_nothing(org_a: Organisation, body: Any) -> None:
    response = _post_json(Client(), body)
    assert 400 <= response.status_code < 500
    assert response.json()["error"]
    assert not Case.objects.exists()


@pytest.mark.parametrize("size", [MAX_BODY + 1, 3_000_000])
def test_an_oversized_body_is_refused(org_a: Organisation, size: int) -> None:
    response = _post_json(Client(), {"items": [item()], "contact": "x" * size})
    assert response.status_code == 413
    assert response.json()["error"]
    assert not Case.objects.exists()


def test_with_several_centres_she_chooses_one_and_unknown_ones_are_refused(
    org_a: Organisation, org_b: Organisation
) -> None:
    page = Client().get("/portal/submit/").content.decode()
    assert "Centre A" in page
    assert "Centre B" in page
    assert _post_json(Client(), {"items": [item()]}).status_code == 400
    _submit(Client(), organisation=org_b.pk)
    assert Case.objects.get().organisation == org_b


def test_with_one_centre_no_choice_is_shown(org_a: Organisation) -> None:
    page = Client().get("/portal/submit/").content.decode()
    assert 'id="organisation"' not in page


def test_the_status_page_shows_the_stage_and_count_only(org_a: Organisation) -> None:
    answer = _submit(Client())
    page = Client().post(STATUS, {"case_number": answer["case_number"], "pin": answer["pin"]})
    text = page.content.decode()
    assert "Received" in text
    assert "data-pictures>1<" in text
    assert PDQ not in text


def _five_wrong(number: str) -> None:
    for n in range(5):
        response = Client(REMOTE_ADDR=f"10.0.0.{n}").post(STATUS, {"case_number": number, "pin": "99999999"})
        assert response.status_code == 403


def test_a_wrong_pin_and_an_unknown_number_get_the_same_answer(org_a: Organisation) -> None:
    answer = _submit(Client())
    wrong_pin = Client().post(STATUS, {"case_number": answer["case_number"], "pin": "99999999"})
    no_case = Client().post(STATUS, {"case_number": "HV-ZZZZ-ZZZZ", "pin": "99999999"})
    assert wrong_pin.status_code == no_case.status_code == 403
    assert wrong_pin.content == no_case.content


def test_five_wrong_pins_lock_the_case_the_same_whether_it_exists_or_not(org_a: Organisation) -> None:
    answer = _submit(Client())
    started = time.monotonic()
    _five_wrong(answer["case_number"])
    _five_wrong("HV-ZZZZ-ZZZZ")
    # The two lockouts start as far apart as the five wrong PINs took to check (argon2 is slow
    # on a loaded machine): Retry-After may differ by that much, no more.
    apart = math.ceil(time.monotonic() - started)
    # From the network the wrong PINs came from (10.0.0.0/24), both are locked alike.
    real = Client(REMOTE_ADDR="10.0.0.101").post(
        STATUS, {"case_number": answer["case_number"], "pin": answer["pin"]}
    )
    fake = Client(REMOTE_ADDR="10.0.0.102").post(STATUS, {"case_number": "HV-ZZZZ-ZZZZ", "pin": "1"})
    # From another network, neither is: a wrong PIN answers alike for both.
    elsewhere = [
        Client(REMOTE_ADDR="10.0.1.1").post(STATUS, {"case_number": n, "pin": "99999999"})
        for n in (answer["case_number"], "HV-ZZZZ-ZZZZ")
    ]
    assert [r.status_code for r in elsewhere] == [403, 403]
    assert elsewhere[0].content == elsewhere[1].content
    assert real.status_code == fake.status_code == 429
    assert real.content == fake.content
    assert (
        real["Retry-After"] == fake["Retry-After"]
        or abs(int(real["Retry-After"]) - int(fake["Retry-After"])) <= apart + 1
    )


def test_one_client_is_rate_limited(org_a: Organisation) -> None:
    client = Client(REMOTE_ADDR="192.0.2.7")
    for n in range(actions.CLIENT_LIMIT):
        assert client.post(STATUS, {"case_number": f"HV-AAAA-AA{n:02d}", "pin": "1"}).status_code == 403
    assert client.post(STATUS, {"case_number": "HV-BBBB-BBBB", "pin": "1"}).status_code == 429
    other = Client(REMOTE_ADDR="192.0.2.8")
    assert other.post(STATUS, {"case_number": "HV-BBBB-BBBB", "pin": "1"}).status_code == 403


def test_withdrawal_asks_first_then_removes_the_hashes_from_the_index_at_once(org_a: Organisation) -> None:
    answer = _submit(Client())
    index = ContentIndex()
    assert index.lookup(org_a.pk, pdq=[PdqHash.from_hex(PDQ)])
    credentials = {"case_number": answer["case_number"], "pin": answer["pin"], "do": "withdraw"}
    ask = Client().post(STATUS, credentials)
    assert "Are you sure?" in ask.content.decode()
    assert index.lookup(org_a.pk, pdq=[PdqHash.from_hex(PDQ)])
    done = Client().post(STATUS, {**credentials, "confirm": "yes"})
    assert "Your consent is withdrawn" in done.content.decode()
    assert index.lookup(org_a.pk, pdq=[PdqHash.from_hex(PDQ)]) == []


def test_delete_my_data_blanks_the_hashes_and_the_contact(org_a: Organisation) -> None:
    answer = _submit(Client(), contact="text only")
    credentials = {"case_number": answer["case_number"], "pin": answer["pin"], "do": "delete"}
    Client().post(STATUS, credentials)
    assert Case.objects.get().contact_encrypted is not None
    done = Client().post(STATUS, {**credentials, "confirm": "yes"})
    assert "Your data is deleted" in done.content.decode()
    case = Case.objects.get()
    assert case.contact_encrypted is None
    content = case.content.get()
    assert (content.pdq, content.md5, content.sha256) == ("", "", "")
    assert ContentIndex().lookup(org_a.pk, pdq=[PdqHash.from_hex(PDQ)]) == []


def test_submissions_count_against_the_client_limit(org_a: Organisation) -> None:
    client = Client(REMOTE_ADDR="192.0.2.9")
    for _ in range(actions.CLIENT_LIMIT):
        _submit(client)
    response = _post_json(client, {"items": [item()]})
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert Case.objects.count() == actions.CLIENT_LIMIT


def test_behind_a_proxy_the_limit_follows_the_address_the_proxy_saw(
    org_a: Organisation, settings: Any
) -> None:
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    proxy = Client(REMOTE_ADDR="10.9.9.9")
    for n in range(actions.CLIENT_LIMIT):
        forged = f"203.0.113.{n}, 198.51.100.1"  # the client wrote the first part, the proxy the last
        response = proxy.post(
            STATUS, {"case_number": "HV-AAAA-AAAA", "pin": "1"}, HTTP_X_FORWARDED_FOR=forged
        )
        assert response.status_code in (403, 429)
    limited = proxy.post(
        STATUS, {"case_number": "HV-BBBB-BBBB", "pin": "1"}, HTTP_X_FORWARDED_FOR="198.51.100.1"
    )
    assert limited.status_code == 429
    other = proxy.post(
        STATUS, {"case_number": "HV-BBBB-BBBB", "pin": "1"}, HTTP_X_FORWARDED_FOR="198.51.100.2"
    )
    assert other.status_code == 403


def test_no_consent_is_ticked_for_her(org_a: Organisation) -> None:
    page = Client().get("/portal/submit/").content.decode()
    assert 'name="consent"' in page
    assert " checked" not in page


def test_a_counsellor_opens_a_case_that_came_through_the_portal(
    org_a: Organisation, counsellor: Persona
) -> None:
    answer = _submit(Client(), contact="text only")
    staff = signed_in(counsellor.user)
    listing = staff.get(reverse("cases:list"))
    assert answer["case_number"] in listing.content.decode()
    detail = staff.get(reverse("cases:detail", args=[answer["case_number"]]))
    assert detail.status_code == 200
    assert "photo 1" in detail.content.decode()
    assert answer["pin"] not in detail.content.decode()


def test_the_landing_page_shows_each_centres_child_protection_contacts(org_a: Organisation) -> None:
    org_a.child_protection_info = "Youth line 1388\nPolice 112"
    org_a.save()
    page = Client().get("/portal/").content.decode()
    assert "Youth line 1388<br>Police 112" in page
    assert "[the centre adds the number here]" not in page


@pytest.mark.parametrize("language", ["ar", "en", "es", "fr", "ko", "ru", "zh-hans"])
def test_every_language_is_one_tap_away_and_none_leaves_a_cookie(org_a: Organisation, language: str) -> None:
    from django.conf import settings

    response = Client().get(f"/portal/?lang={language}")
    page = response.content.decode()
    direction = "rtl" if language == "ar" else "ltr"
    assert f'<html lang="{language}" dir="{direction}">' in page
    assert response["Content-Language"] == language
    assert not response.cookies
    for code, _name in settings.LANGUAGES:
        link = f'href="?lang={code}" lang="{code}"'
        assert (link in page) is (code != language), code
    assert f'<span aria-current="true" lang="{language}">' in page
