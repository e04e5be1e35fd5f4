"""A survivor's videos arrive as the PDQ hashes of one frame a second, and match like pictures."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from haven.signals import PdqHash
from haven.web.accounts.models import Organisation
from haven.web.cases.matching import ContentIndex
from haven.web.cases.models import MAX_VIDEO_FRAMES, ContentItem
from haven.web.core.errors import ActionError
from haven.web.portal import actions

from .conftest import MD5, PDQ, PDQ2, item

pytestmark = pytest.mark.django_db

CONSENTS = {"monitor": True}
SHA = "ab" * 32


def video(*hashes: str, quality: int = 90) -> dict[str, Any]:
    frames = [[n, quality, h, float(n)] for n, h in enumerate(hashes)]
    return {"kind": "video", "video_frames": frames, "md5": MD5, "sha256": SHA, "label": "ignored"}


def test_a_video_is_stored_as_its_frames_and_found_by_any_of_them(org_a: Organisation) -> None:
    case, _number, _pin = actions.submit_hashes(
        organisation=org_a, items=[item(), video(PDQ2, PDQ), video(PDQ2)], consents=CONSENTS
    )
    photo, first, second = ContentItem.objects.filter(case=case)
    assert [(i.kind, i.label) for i in (photo, first, second)] == [
        ("photo", "photo 1"),
        ("video", "video 1"),
        ("video", "video 2"),
    ]
    assert first.video_frames == [[0, 90, PDQ2, 0.0], [1, 90, PDQ, 1.0]]
    assert (first.pdq, first.md5, first.sha256) == ("", MD5, SHA)
    hits = ContentIndex().lookup(org_a.pk, pdq=[PdqHash.from_hex(PDQ2)], radius=0)
    assert {h.item_id for h in hits} == {first.pk, second.pk}


@pytest.mark.parametrize(
    "bad",
    [
        {"kind": "video"},
        {"kind": "video", "video_frames": "0,90,abc,0"},
        {"kind": "video", "video_frames": [[0, 90, "xyz", 0.0]]},
        {"kind": "video", "video_frames": [[0, 190, PDQ, 0.0]]},
        {"kind": "video", "video_frames": [[0, 90, PDQ, -1]]},
        {"kind": "video", "video_frames": [[0, 90, PDQ, 1.0], [1, 90, PDQ, 1.0]]},
        {"kind": "sound", "pdq": PDQ},
        {"kind": "photo", "pdq": PDQ, "video_frames": [[0, 90, PDQ, 0.0]]},
    ],
)
def test_a_malformed_video_is_refused_and_nothing_is_stored(org_a: Organisation, bad: dict[str, Any]) -> None:
    with pytest.raises(ActionError):
        actions.submit_hashes(organisation=org_a, items=[item(), bad], consents=CONSENTS)
    assert not ContentItem.objects.exists()


def test_more_than_three_hours_of_video_at_once_is_refused(org_a: Organisation) -> None:
    long = [[n, 90, PDQ, float(n)] for n in range(MAX_VIDEO_FRAMES)]
    items = [{"kind": "video", "video_frames": long}] * 4
    with pytest.raises(ActionError, match="3 hours"):
        actions.submit_hashes(organisation=org_a, items=items, consents=CONSENTS)
    assert not ContentItem.objects.exists()


def test_the_submit_page_takes_videos_and_lets_the_page_play_them_locally(org_a: Organisation) -> None:
    response = Client().get("/portal/submit/?lang=en")
    page = response.content.decode()
    assert 'accept="image/*,video/*"' in page
    assert "pictures or videos" in page
    media = next(d for d in response["Content-Security-Policy"].split(";") if "media-src" in d)
    assert "blob:" in media
    assert "data:" not in media
    korean = Client().get("/portal/submit/?lang=ko").content.decode()
    assert "동영상" in korean


def test_an_hour_of_video_fits_in_one_request(org_a: Organisation) -> None:
    hour = [[n, 90, PDQ, float(n)] for n in range(MAX_VIDEO_FRAMES)]
    body = {"items": [{"kind": "video", "video_frames": hour, "md5": MD5}], "consents": CONSENTS}
    response = Client().post("/portal/api/submit/", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 201, response.content
    (stored,) = ContentItem.objects.all()
    assert len(stored.video_frames) == MAX_VIDEO_FRAMES


def test_a_malformed_video_through_the_endpoint_gets_a_clear_error(org_a: Organisation) -> None:
    body = {"items": [{"kind": "video", "video_frames": [[0, 90, "xyz", 0.0]]}], "consents": CONSENTS}
    response = Client().post(
        "/portal/api/submit/?lang=en", data=json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 400
    assert "Frame 1" in response.json()["error"]
    assert not ContentItem.objects.exists()


def test_delete_my_data_erases_a_videos_frame_hashes_too(org_a: Organisation) -> None:
    case, _number, _pin = actions.submit_hashes(
        organisation=org_a, items=[video(PDQ2, PDQ)], consents=CONSENTS
    )
    actions.delete_my_data(case=case)
    (stored,) = ContentItem.objects.filter(case=case)
    assert stored.video_frames == []
    assert (stored.md5, stored.sha256) == ("", "")
    assert stored.removed_at is not None
    assert ContentIndex().lookup(org_a.pk, pdq=[PdqHash.from_hex(PDQ2)], radius=0) == []
