"""A photo's robust signals (``haven hash --robust``'s "extra") are kept strictly checked."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from haven.signals import CROPS
from haven.web.audit.models import AuditEvent, EventType
from haven.web.cases import actions
from haven.web.cases.models import Case, ContentItem
from haven.web.core.errors import ActionError

from ..conftest import Persona

ClientOf = Callable[[Persona], Client]

pytestmark = pytest.mark.django_db

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
CENTRE = "0f" * 32
CORNER = "AB" * 32


def _post(api: Client, url: str, body: Any) -> Any:
    return api.post(url, data=json.dumps(body), content_type="application/json")


def _extra(*kinds: str) -> list[dict[str, Any]]:
    return [{"kind": kind, "pdq": f"{n + 1:064x}"} for n, kind in enumerate(kinds)]


def test_the_api_keeps_and_returns_extra_signals_in_a_fixed_order(case: Case, counsellor: Persona) -> None:
    api = counsellor.api()
    extra = [{"kind": "corner60_tl", "pdq": CORNER, "quality": 77}, {"kind": "centre80", "pdq": CENTRE}]
    response = _post(
        api, f"/api/v1/cases/{case.number}/content", [{"label": "p", "pdq": PDQ, "extra": extra}]
    )
    assert response.status_code == 201, response.content
    expected = [
        {"kind": "centre80", "pdq": CENTRE, "quality": None},
        {"kind": "corner60_tl", "pdq": CORNER.lower(), "quality": 77},
    ]
    assert response.json()[0]["extra"] == expected
    assert ContentItem.objects.get().extra == [
        {"kind": "centre80", "pdq": CENTRE},
        {"kind": "corner60_tl", "pdq": CORNER.lower(), "quality": 77},
    ]
    assert api.get(f"/api/v1/cases/{case.number}/content").json()[0]["extra"] == expected


def test_content_without_extra_signals_lists_none(case: Case, counsellor: Persona) -> None:
    response = _post(counsellor.api(), f"/api/v1/cases/{case.number}/content", [{"label": "p", "pdq": PDQ}])
    assert response.json()[0]["extra"] == []


def test_every_crop_kind_once_is_accepted(case: Case, counsellor: Persona) -> None:
    (item,) = actions.add_content(
        actor=counsellor.user, case=case, items=[actions.HashInput("p", PDQ, extra=_extra(*CROPS))]
    )
    assert [e["kind"] for e in item.extra] == list(CROPS)


BAD_EXTRA = [
    ([{"kind": "centre80", "pdq": "abc"}], "Extra signal 1 (centre80): the PDQ hash must be 64 hexadecimal"),
    ([{"kind": "centre80", "pdq": "z" * 64}], "Extra signal 1 (centre80): the PDQ hash must be 64"),
    ([{"kind": "centre80", "pdq": 12}], "Extra signal 1 (centre80): the PDQ hash must be 64"),
    ([{"kind": "centre80"}], "Extra signal 1 (centre80): the PDQ hash must be 64"),
    (_extra("centre80", "centre70"), "Extra signal 2: unknown kind “centre70”"),
    (_extra("pdq"), "Extra signal 1: unknown kind “pdq”"),
    (_extra("pdq_dihedral"), "Extra signal 1: unknown kind “pdq_dihedral”"),
    (_extra("top50", "left50", "top50"), "Extra signal 3: a “top50” signal was given already"),
    (_extra(*CROPS, "centre80"), "A picture has at most 11 extra signals, one of each kind."),
    (_extra("centre80\x00"), "Extra signal 1: the text must not contain NUL characters."),
    ([{"kind": "centre80", "pdq": CENTRE + "\x00"}], "Extra signal 1 (centre80): the PDQ hash must be 64"),
    ([{"kind": "centre80", "pdq": CENTRE, "quality": 101}], "Extra signal 1 (centre80): the quality must be"),
    (
        [{"kind": "centre80", "pdq": CENTRE, "quality": True}],
        "Extra signal 1 (centre80): the quality must be",
    ),
    ([{"kind": "centre80", "pdq": CENTRE, "note": "x"}], "Extra signal 1 must be {kind, pdq}"),
    ([["centre80", CENTRE]], "Extra signal 1 must be {kind, pdq}"),
    ([{"kind": 5, "pdq": CENTRE}], "Extra signal 1 must be {kind, pdq}"),
    ({"kind": "centre80", "pdq": CENTRE}, "The extra signals must be a list"),
    ("centre80", "The extra signals must be a list"),
]


@pytest.mark.parametrize(("extra", "message"), BAD_EXTRA)
def test_a_bad_extra_signal_is_refused_by_name_and_nothing_is_added(
    case: Case, counsellor: Persona, extra: Any, message: str
) -> None:
    with pytest.raises(ActionError, match=re.escape(message)):
        actions.add_content(
            actor=counsellor.user,
            case=case,
            items=[actions.HashInput("ok", PDQ), actions.HashInput("bad", PDQ, extra=extra)],
        )
    assert not ContentItem.objects.exists()
    assert not AuditEvent.objects.filter(event_type=EventType.CONTENT_ADDED).exists()


@pytest.mark.parametrize(("extra", "message"), [b for b in BAD_EXTRA if isinstance(b[0], list)])
def test_the_api_refuses_a_bad_extra_signal_with_a_clear_error(
    case: Case, counsellor: Persona, extra: Any, message: str
) -> None:
    body = [{"label": "ok", "pdq": PDQ}, {"label": "bad", "pdq": PDQ, "extra": extra}]
    response = _post(counsellor.api(), f"/api/v1/cases/{case.number}/content", body)
    assert response.status_code == 422, response.content
    assert message in response.json()["detail"]
    assert not ContentItem.objects.exists()


def test_the_api_bounds_the_extra_list_before_reading_it(case: Case, counsellor: Persona) -> None:
    body = [{"label": "p", "pdq": PDQ, "extra": [{"kind": "centre80", "pdq": CENTRE}] * 65}]
    response = _post(counsellor.api(), f"/api/v1/cases/{case.number}/content", body)
    assert response.status_code == 422
    assert not ContentItem.objects.exists()


def test_extra_signals_need_the_whole_picture_hash_and_a_photo(case: Case, counsellor: Persona) -> None:
    with pytest.raises(ActionError, match="need the photo’s own PDQ hash"):
        actions.add_content(
            actor=counsellor.user,
            case=case,
            items=[actions.HashInput("p", md5="9e107d9d372bb6826bd81d3542a419d6", extra=_extra("top50"))],
        )
    video = actions.HashInput("v", kind="video", video_frames=((0, 90, PDQ, 0.0),), extra=_extra("top50"))
    with pytest.raises(ActionError, match=r"Only a photo has extra signals\."):
        actions.add_content(actor=counsellor.user, case=case, items=[video])
    assert not ContentItem.objects.exists()


def test_an_outsider_cannot_add_extra_signals_to_another_centres_case(case: Case, outsider: Persona) -> None:
    body = [{"label": "p", "pdq": PDQ, "extra": _extra("top50")}]
    response = _post(outsider.api(), f"/api/v1/cases/{case.number}/content", body)
    assert response.status_code in (403, 404)
    assert not ContentItem.objects.exists()


def test_pasted_robust_lines_keep_their_extra_signals(
    counsellor: Persona, case: Case, client_of: ClientOf
) -> None:
    line = json.dumps({"path": "x.jpg", "pdq": PDQ, "quality": 90, "extra": _extra("centre80", "top50")})
    response = client_of(counsellor).post(
        reverse("cases:content_paste", args=[case.number]), {"lines": line, "label": "photo"}
    )
    assert response.status_code == 302
    assert ContentItem.objects.get().extra == _extra("centre80", "top50")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (_extra("centre70"), "Line 2: Extra signal 1: unknown kind “centre70”"),
        (_extra("top50", "top50"), "Line 2: Extra signal 2: a “top50” signal was given already"),
        ([{"kind": "top50", "pdq": "12"}], "Line 2: Extra signal 1 (top50): the PDQ hash must be 64"),
    ],
)
def test_a_pasted_line_with_a_bad_extra_signal_names_the_line_and_adds_nothing(
    counsellor: Persona, case: Case, client_of: ClientOf, extra: Any, message: str
) -> None:
    good = json.dumps({"pdq": PDQ})
    bad = json.dumps({"pdq": PDQ, "extra": extra})
    response = client_of(counsellor).post(
        reverse("cases:content_paste", args=[case.number]), {"lines": f"{good}\n{bad}", "label": "photo"}
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not ContentItem.objects.exists()
