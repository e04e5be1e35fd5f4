"""Videos as content: their sampled frames' PDQ hashes are stored, indexed and matched."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from haven.signals import PdqHash, parse_vpdq
from haven.web.cases import actions
from haven.web.cases.matching import ContentIndex
from haven.web.cases.models import MAX_VIDEO_FRAMES, Case, ContentItem
from haven.web.core.errors import ActionError

from ..conftest import Persona

pytestmark = pytest.mark.django_db

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
MD5 = "0123456789abcdef0123456789abcdef"


def post(client: Client, url: str, payload: object) -> Any:
    return client.post(url, data=json.dumps(payload), content_type="application/json")


@pytest.fixture
def chair(vectors: Path) -> list[list[Any]]:
    """vPDQ's reference frames of a short video, one a second, as the API takes them."""
    lines = (vectors / "vpdq" / "expected" / "chair-19-sd-bar.txt").read_text().splitlines()
    frames, next_second = [], 0.0
    for f in parse_vpdq(lines):
        if f.timestamp + 1e-6 >= next_second:
            frames.append([f.frame, f.quality, str(f.hash), f.timestamp])
            next_second += 1.0
    assert len(frames) >= 3
    return frames


def _monitor(api: Client, case: Case) -> None:
    url = f"/api/v1/cases/{case.number}/consent"
    assert post(api, url, {"scope": "monitor", "granted": True, "method": "phone"}).status_code == 201


def test_a_video_added_through_the_api_is_found_by_one_of_its_frames(
    case: Case, counsellor: Persona, chair: list[list[Any]]
) -> None:
    api = counsellor.api()
    _monitor(api, case)
    payload = [{"label": "video 1", "kind": "video", "video_frames": chair, "md5": MD5}]
    response = post(api, f"/api/v1/cases/{case.number}/content", payload)
    assert response.status_code == 201, response.content
    (created,) = response.json()
    assert created["kind"] == "video"
    assert created["pdq"] == ""
    assert [list(f) for f in created["video_frames"]] == chair
    listed = api.get(f"/api/v1/cases/{case.number}/content").json()
    assert [(c["id"], c["kind"], len(c["video_frames"])) for c in listed] == [
        (created["id"], "video", len(chair))
    ]
    frame = chair[len(chair) // 2]
    hits = post(api, "/api/v1/lookup", {"pdq": [frame[2]]}).json()
    assert [(h["content"]["id"], h["distance"], h["query_kind"]) for h in hits] == [(created["id"], 0, "pdq")]


def test_a_video_matches_once_per_query_with_its_best_frame(
    case: Case, counsellor: Persona, chair: list[list[Any]]
) -> None:
    actions.record_consent(actor=counsellor.user, case=case, scope="monitor", granted=True, method="phone")
    frames = tuple((f[0], f[1], f[2], f[3]) for f in chair)
    (item,) = actions.add_content(
        actor=counsellor.user,
        case=case,
        items=[actions.HashInput(label="v", kind="video", video_frames=frames)],
    )
    index = ContentIndex()
    query = PdqHash.from_hex(chair[0][2])
    hits = index.lookup(counsellor.user.organisation_id, pdq=[query], radius=64)
    assert [(h.item_id, h.distance) for h in hits] == [(item.pk, 0)]


def test_frames_of_low_quality_are_not_indexed(case: Case, counsellor: Persona) -> None:
    actions.record_consent(actor=counsellor.user, case=case, scope="monitor", granted=True, method="phone")
    other = "0" * 63 + "1"
    actions.add_content(
        actor=counsellor.user,
        case=case,
        items=[
            actions.HashInput(label="v", kind="video", video_frames=((0, 49, PDQ, 0.0), (30, 50, other, 1.0)))
        ],
    )
    index = ContentIndex()
    org = counsellor.user.organisation_id
    assert index.lookup(org, pdq=[PdqHash.from_hex(PDQ)], radius=0) == []
    assert len(index.lookup(org, pdq=[PdqHash.from_hex(other)], radius=0)) == 1


def test_withdrawal_and_removal_drop_a_videos_frames(
    case: Case, counsellor: Persona, chair: list[list[Any]]
) -> None:
    api = counsellor.api()
    _monitor(api, case)
    payload = [{"label": "video 1", "kind": "video", "video_frames": chair}]
    (created,) = post(api, f"/api/v1/cases/{case.number}/content", payload).json()
    query = {"pdq": [chair[-1][2]]}
    assert len(post(api, "/api/v1/lookup", query).json()) == 1
    consent = f"/api/v1/cases/{case.number}/consent"
    assert post(api, consent, {"scope": "monitor", "granted": False, "method": "phone"}).status_code == 201
    assert post(api, "/api/v1/lookup", query).json() == []
    assert ContentIndex().lookup(counsellor.user.organisation_id, pdq=[PdqHash.from_hex(chair[-1][2])]) == []
    _monitor(api, case)
    assert len(post(api, "/api/v1/lookup", query).json()) == 1
    assert api.delete(f"/api/v1/content/{created['id']}").status_code == 204
    assert post(api, "/api/v1/lookup", query).json() == []


def test_an_outsider_does_not_find_a_video_by_its_frames(
    case: Case, counsellor: Persona, outsider: Persona, chair: list[list[Any]]
) -> None:
    api = counsellor.api()
    _monitor(api, case)
    post(
        api, f"/api/v1/cases/{case.number}/content", [{"label": "v", "kind": "video", "video_frames": chair}]
    )
    assert post(outsider.api(), "/api/v1/lookup", {"pdq": [chair[0][2]]}).json() == []


GOOD = [0, 80, PDQ, 0.0]


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        ([], "frames"),
        ([[0, 80, "abc", 0.0]], "Frame 1"),
        ([[0, 80, "z" * 64, 0.0]], "Frame 1"),
        ([[0, 101, PDQ, 0.0]], "quality"),
        ([[0, -1, PDQ, 0.0]], "quality"),
        ([[0, True, PDQ, 0.0]], "quality"),
        ([[0, 80, PDQ, -1.0]], "negative"),
        ([GOOD, [30, 80, PDQ, 0.0]], "in order"),
        ([GOOD, [30, 80, PDQ, 2.0], [60, 80, PDQ, 1.5]], "Frame 3"),
        ([[0, 80, PDQ]], "Frame 1"),
        (["0,80,hash,0"], "Frame 1"),
        ([[0, 80, PDQ, "soon"]], "seconds"),
    ],
)
def test_malformed_video_frames_are_refused_and_nothing_is_stored(
    case: Case, counsellor: Persona, frames: list[Any], message: str
) -> None:
    payload = [{"label": "v", "kind": "video", "video_frames": frames}]
    response = post(counsellor.api(), f"/api/v1/cases/{case.number}/content", payload)
    assert response.status_code == 422, response.content
    assert message in response.json()["detail"]
    assert ContentItem.objects.count() == 0


def test_too_many_frames_are_refused(case: Case, counsellor: Persona) -> None:
    frames = [[n, 80, PDQ, float(n)] for n in range(MAX_VIDEO_FRAMES + 1)]
    payload = [{"label": "v", "kind": "video", "video_frames": frames}]
    response = post(counsellor.api(), f"/api/v1/cases/{case.number}/content", payload)
    assert response.status_code == 422
    assert ContentItem.objects.count() == 0
    with pytest.raises(ActionError, match="at most"):
        actions.add_content(
            actor=counsellor.user,
            case=case,
            items=[actions.HashInput(label="v", kind="video", video_frames=tuple(tuple(f) for f in frames))],
        )


@pytest.mark.parametrize(
    "item",
    [
        {"label": "v", "kind": "video", "video_frames": [GOOD], "pdq": PDQ},
        {"label": "p", "kind": "photo", "pdq": PDQ, "video_frames": [GOOD]},
        {"label": "p", "kind": "film", "pdq": PDQ},
    ],
)
def test_photo_and_video_fields_are_not_mixed(case: Case, counsellor: Persona, item: dict[str, Any]) -> None:
    response = post(counsellor.api(), f"/api/v1/cases/{case.number}/content", [item])
    assert response.status_code == 422, response.content
    assert ContentItem.objects.count() == 0


def test_photos_keep_their_fields_and_are_of_kind_photo(case: Case, counsellor: Persona) -> None:
    response = post(counsellor.api(), f"/api/v1/cases/{case.number}/content", [{"label": "p", "pdq": PDQ}])
    (created,) = response.json()
    assert created["kind"] == "photo"
    assert created["video_frames"] == []
    assert created["pdq"] == PDQ


def test_the_case_page_shows_a_video_as_its_frame_count(case: Case, counsellor: Persona) -> None:
    from ..accounts.twofactor import signed_in

    frames = [[0, 100, "f" * 16 + "0" * 48, 0.0], [1, 90, "0" * 48 + "f" * 16, 1.0]]
    actions.add_content(
        actor=counsellor.user,
        case=case,
        items=[actions.HashInput(label="video 1", kind="video", video_frames=tuple(map(tuple, frames)))],
    )
    page = signed_in(counsellor.user).get(f"/cases/{case.number}/").content.decode()
    assert "2 frame hashes (one a second)" in page
