"""A monitored case with robust signals: a run finds a cropped re-upload of its photo."""

from __future__ import annotations

import pytest
from PIL import Image

from haven.signals import CROPS
from haven.web.accounts.models import Organisation
from haven.web.cases.models import Case
from haven.web.monitoring import actions
from haven.web.monitoring.bank import CaseBank
from haven.web.monitoring.models import Candidate, ScanRun
from tests.scan.content import cropped, meme
from tests.scan.site import TestSite
from tests.web.conftest import Persona
from tests.web.takedown.conftest import add_robust_photo

pytestmark = pytest.mark.usefixtures("loopback")


@pytest.fixture
def robust_case(case: Case, counsellor: Persona, photo: Image.Image) -> Case:
    """The persona case, consenting to monitoring, with its photo as ``haven hash --robust`` gives it."""
    return add_robust_photo(counsellor, case, photo, "monitor")


def _run(officer: Persona, start: str) -> ScanRun:
    data = actions.SourceInput(name="Local forum", kind="crawl", target=start, depth=0)
    source = actions.save_source(actor=officer.user, data=data)
    run = actions.queue_run(actor=officer.user, source=source)
    return actions.execute_run(ScanRun.objects.get(pk=run.pk))


def test_the_bank_carries_the_photos_crop_signals(robust_case: Case, org_a: Organisation) -> None:
    (entry,) = CaseBank(org_a.pk).read_bank()
    assert entry.extra
    assert {s.kind for s in entry.extra} <= set(CROPS)


def test_another_centres_bank_holds_none_of_them(robust_case: Case, org_b: Organisation) -> None:
    assert list(CaseBank(org_b.pk).read_bank()) == []


def test_a_run_finds_a_cropped_and_a_meme_framed_re_upload(
    site: TestSite, robust_case: Case, officer: Persona, photo: Image.Image
) -> None:
    site.put("/robust-m/crop.jpg", cropped(photo), "image/jpeg")
    site.put("/robust-m/meme.jpg", meme(photo), "image/jpeg")
    start = site.put("/robust-m/", '<html><body><img src="crop.jpg"><img src="meme.jpg"></body></html>')
    run = _run(officer, start)
    assert run.status == "done", run.failure
    assert run.candidates == 2
    found = {c.media_url.rsplit("/", 1)[1]: c for c in Candidate.objects.filter(case=robust_case)}
    assert set(found) == {"crop.jpg", "meme.jpg"}
    assert found["crop.jpg"].kind in CROPS
    assert found["crop.jpg"].transform
    assert found["meme.jpg"].kind == "pdq"
    assert found["meme.jpg"].transform != "original"
    assert all(c.distance <= 31 for c in found.values())
