"""A withdrawal that lands while a partner is reading a page still reaches that partner."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from django.db import connection

from haven.web.cases import actions as cases
from haven.web.cases.models import Case
from haven.web.sharing import feed
from haven.web.sharing.models import Delivery
from tests.web.conftest import Persona

from .conftest import PartnerClient


@pytest.mark.skipif(
    connection.vendor == "sqlite",
    reason="SQLite lets one writer in at a time (the fetch is one); its in-memory test database "
    "fails the second writer at once instead of letting it wait, so this runs on PostgreSQL",
)
def test_a_withdrawal_during_a_fetch_still_becomes_a_tombstone_for_that_partner(
    transactional_db: None,
    counsellor: Persona,
    shared_case: Case,
    platform: PartnerClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    read, release = threading.Event(), threading.Event()
    record_fetch = feed.record_fetch

    def after_the_page_was_read(**kwargs: Any) -> None:
        read.set()
        release.wait(10)
        record_fetch(**kwargs)

    monkeypatch.setattr(feed, "record_fetch", after_the_page_was_read)
    result: dict[str, Any] = {}

    def fetch() -> None:
        try:
            result["page"] = json.loads(
                feed.stopncii_page(platform.partner, start=10, page_size=1000, token=None)
            )
        finally:
            connection.close()

    def withdraw() -> None:
        try:
            cases.record_consent(
                actor=counsellor.user, case=shared_case, scope="share", granted=False, method="phone"
            )
        finally:
            connection.close()

    reader = threading.Thread(target=fetch)
    reader.start()
    assert read.wait(10), "the fetch did not get as far as reading its page"
    writer = threading.Thread(target=withdraw)
    writer.start()
    time.sleep(0.3)  # let the withdrawal commit while the page is still being answered
    release.set()
    reader.join(20)
    writer.join(20)
    assert {r["hashStatus"] for r in result["page"]["hashRecords"]} == {"Active"}
    assert Delivery.objects.filter(partner=platform.partner).count() == 2
    records, _ = platform.fetch_all()
    assert {r["hashStatus"] for r in records} == {"Withdrawn"}
