"""A survivor's videos arrive as the PDQ hashes of one frame a second, and match like pictures."""

from __future__ import annotations

from typing import Any

import pytest

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
