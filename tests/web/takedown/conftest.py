"""A real local "platform" (web server on 127.0.0.1) and a real SMTP server for the takedown tests."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.test import Client, override_settings
from PIL import Image

from haven.signals import pdq_hash
from haven.web.cases import actions as case_actions
from haven.web.cases.models import Case
from haven.web.takedown import actions
from haven.web.takedown.models import Platform
from tests.scan.site import TestSite, serve
from tests.web.accounts.twofactor import signed_in
from tests.web.conftest import Persona


@pytest.fixture(scope="session")
def site() -> Iterator[TestSite]:
    yield from serve()


@pytest.fixture
def photo(vectors: Path) -> Image.Image:
    """The survivor's photo: a real photograph from the reference vectors."""
    with Image.open(vectors / "pdq" / "bridge-mods" / "aaa-orig.jpg") as image:
        return image.convert("RGB")


def add_robust_photo(counsellor: Persona, case: Case, photo: Image.Image, scope: str) -> Case:
    """The case, consenting to ``scope``, with its photo as ``haven hash --robust`` gives it."""
    from tests.scan.content import encode, robust_record

    case_actions.record_consent(actor=counsellor.user, case=case, scope=scope, granted=True, method="phone")
    record = robust_record(encode(photo, quality=90))
    item = case_actions.HashInput("photo 1", record["pdq"], record["quality"], extra=record["extra"])
    case_actions.add_content(actor=counsellor.user, case=case, items=[item])
    return case


def jpeg(image: Image.Image, quality: int = 85) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


@pytest.fixture
def loopback() -> Iterator[None]:
    """The safe fetcher may reach the test platform on 127.0.0.1 (and nothing else private)."""
    with override_settings(HAVEN_FETCH_ALLOW_LOOPBACK=True, HAVEN_FETCH_TIMEOUT_SECONDS=5):
        yield


@pytest.fixture
def consenting_case(case: Case, counsellor: Persona, photo: Image.Image) -> Case:
    """The persona case, with consent to takedown and the hash of one photo (as the portal sends it)."""
    case_actions.record_consent(
        actor=counsellor.user, case=case, scope="takedown", granted=True, method="in_person"
    )
    result = pdq_hash(photo)
    case_actions.add_content(
        actor=counsellor.user,
        case=case,
        items=[case_actions.HashInput(label="photo 1", pdq=str(result.hash), quality=result.quality)],
    )
    return case


@pytest.fixture
def platform(admin: Persona) -> Platform:
    return actions.save_platform(
        actor=admin.user,
        data=actions.PlatformInput(
            name="Local Test Platform",
            kind="forum",
            domains=["127.0.0.1"],
            abuse_email="abuse@platform.test",
            regimes=["dsa", "policy"],
            response_hours=72,
        ),
    )


@pytest.fixture
def client_of() -> Callable[[Persona], Client]:
    return lambda persona: signed_in(persona.user)
