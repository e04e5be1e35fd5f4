"""Evidence of a cropped copy: the media matches through a robust signal, and says which."""

from __future__ import annotations

import pytest
from django.utils import timezone
from PIL import Image

from haven.signals import CROPS
from haven.web.cases.models import Case, ContentItem
from haven.web.takedown import actions
from haven.web.takedown.models import Evidence
from tests.scan.content import cropped, encode
from tests.scan.site import TestSite
from tests.web.conftest import Persona
from tests.web.takedown.conftest import add_robust_photo

pytestmark = pytest.mark.usefixtures("loopback")


@pytest.fixture
def robust_case(case: Case, counsellor: Persona, photo: Image.Image) -> Case:
    return add_robust_photo(counsellor, case, photo, "takedown")


def _media_evidence(site: TestSite, case: Case, officer: Persona, prefix: str, media: bytes) -> Evidence:
    url = site.put(f"{prefix}/img.jpg", media, "image/jpeg")
    page = site.put(f"{prefix}/page", f"<html><img src='{prefix}/img.jpg'></html>")
    sighting = actions.add_sightings(
        actor=officer.user, case=case, urls=[page], media_url=url, source="counsellor"
    ).created[0]
    rows = actions.capture_evidence(actor=officer.user, sighting=sighting)
    return Evidence.objects.get(pk=rows[1].pk)


def test_a_cropped_copy_matches_through_a_crop_signal(
    site: TestSite, robust_case: Case, officer: Persona, photo: Image.Image
) -> None:
    evidence = _media_evidence(site, robust_case, officer, "/ev-crop", cropped(photo))
    assert evidence.matches
    assert evidence.match_kind in CROPS
    assert evidence.matched_item == ContentItem.objects.get()
    (row,) = officer.api().get(f"/api/v1/sightings/{evidence.sighting_id}").json()["evidence"][1:]
    assert (row["match_kind"], row["distance"], row["matches"]) == (
        evidence.match_kind,
        evidence.distance,
        True,
    )


def test_a_plain_copy_keeps_its_plain_match(
    site: TestSite, robust_case: Case, officer: Persona, photo: Image.Image
) -> None:
    evidence = _media_evidence(site, robust_case, officer, "/ev-plain", encode(photo, quality=70))
    assert evidence.matches
    assert evidence.match_kind == ""


def test_a_photo_removed_while_the_media_is_matched_is_not_recorded_as_its_match(
    site: TestSite, robust_case: Case, officer: Persona, photo: Image.Image, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Matching runs before the sighting is locked; a withdrawal can land in between.
    real = actions._analyse_media

    def analyse_then_withdraw(case: Case, result: object) -> object:
        media = real(case, result)
        ContentItem.objects.filter(case=case).update(removed_at=timezone.now())
        return media

    monkeypatch.setattr(actions, "_analyse_media", analyse_then_withdraw)
    evidence = _media_evidence(site, robust_case, officer, "/ev-gone", cropped(photo))
    assert evidence.pdq  # the media was hashed and its hash kept
    assert (evidence.matched_item, evidence.distance, evidence.matches) == (None, None, False)
