"""Fixtures for sharing: a case that consents to sharing with approved photos, partners with keys."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from haven.web.cases import actions as cases
from haven.web.cases.models import Case, ContentItem
from haven.web.sharing.actions import PartnerKeys, approve_case, create_partner
from haven.web.sharing.models import Partner
from tests.web.accounts.twofactor import signed_in
from tests.web.conftest import Persona


def random_pdq() -> str:
    return secrets.token_hex(32)


@dataclass
class PartnerClient:
    partner: Partner
    keys: PartnerKeys

    def headers(self, endpoint: str = "fetch") -> dict[str, str]:
        key = {
            "fetch": self.keys.fetch_key,
            "feedback": self.keys.feedback_key,
            "submit": self.keys.submit_key,
        }
        return {"Ocp-Apim-Subscription-Key": self.keys.subscription_key, "x-functions-key": key[endpoint]}

    def get(self, path: str, endpoint: str = "fetch", **params: Any) -> Any:
        return Client().get(path, params, headers=self.headers(endpoint))

    def post(self, path: str, body: Any, endpoint: str) -> Any:
        return Client().post(path, body, content_type="application/json", headers=self.headers(endpoint))

    def fetch(self, **params: Any) -> Any:
        return self.get("/api/stopncii/v1/FetchHashes", **params)

    def fetch_all(self, start: int = 10, page_size: int = 1000) -> tuple[list[dict[str, Any]], list[int]]:
        """Every record from ``start`` as a client pages through them, and each page's checkpoint."""
        records: list[dict[str, Any]] = []
        checkpoints: list[int] = []
        token = ""
        while True:
            params: dict[str, Any] = {"startTimestamp": start, "pageSize": page_size}
            if token:
                params["nextPageToken"] = token
            response = self.fetch(**params)
            assert response.status_code == 200, response.content
            page = response.json()
            records += page["hashRecords"]
            checkpoints.append(page["nextSetTimestamp"])
            if not page["hasMoreRecords"]:
                return records, checkpoints
            assert page["nextPageToken"], "hasMoreRecords without a nextPageToken makes pytx loop forever"
            token = page["nextPageToken"]

    def native_all(self, checkpoint: int = 0, page_size: int = 1000) -> tuple[list[dict[str, Any]], int]:
        records: list[dict[str, Any]] = []
        while True:
            response = self.get("/api/sharing/v1/feed", checkpoint=checkpoint, page_size=page_size)
            assert response.status_code == 200, response.content
            page = response.json()
            records += page["records"]
            assert int(page["checkpoint"]) >= checkpoint
            checkpoint = int(page["checkpoint"])
            if not page["has_more"]:
                return records, checkpoint


@pytest.fixture
def make_partner(admin: Persona) -> Callable[..., PartnerClient]:
    def make(name: str = "Example Platform", **kwargs: Any) -> PartnerClient:
        partner, keys = create_partner(
            actor=admin.user,
            organisation=admin.user.organisation,
            name=name,
            kind=kwargs.pop("kind", "platform"),
            **kwargs,
        )
        return PartnerClient(partner, keys)

    return make


@pytest.fixture
def platform(make_partner: Callable[..., PartnerClient]) -> PartnerClient:
    return make_partner()


def add_photos(persona: Persona, case: Case, n: int, quality: int = 90) -> list[ContentItem]:
    return cases.add_content(
        actor=persona.user,
        case=case,
        items=[cases.HashInput(label=f"photo {i + 1}", pdq=random_pdq(), quality=quality) for i in range(n)],
    )


@pytest.fixture
def shared_case(counsellor: Persona, case: Case) -> Case:
    """The persona case with share consent and two approved photos."""
    cases.record_consent(actor=counsellor.user, case=case, scope="share", granted=True, method="in_person")
    add_photos(counsellor, case, 2)
    assert approve_case(actor=counsellor.user, case=case) == 2
    return case


@pytest.fixture
def client_of() -> Callable[[Persona], Client]:
    return lambda persona: signed_in(persona.user)
