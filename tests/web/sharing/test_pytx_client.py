"""python-threatexchange's own StopNCII client and exchange, from PyPI, against a live Haven.

These use pytx's classes as they are: what pytx does with Haven's answers is the contract.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone
from threatexchange.exchanges.clients.stopncii import api as pytx
from threatexchange.exchanges.collab_config import CollaborationConfigBase
from threatexchange.exchanges.impl.stop_ncii_api import StopNCIISignalExchangeAPI

from haven.web.cases import actions as cases
from haven.web.cases.models import Case
from haven.web.sharing import actions
from haven.web.sharing.models import Feedback, FeedHead, QuarantinedHash
from tests.web.conftest import Persona

from .conftest import PartnerClient, add_photos


@pytest.fixture
def client(live_server: Any, platform: PartnerClient) -> pytx.StopNCIIAPI:
    return pytx.StopNCIIAPI(
        platform.keys.subscription_key,
        platform.keys.fetch_key,
        additional_function_keys={
            pytx.StopNCIIEndpoint.SubmitFeedback: platform.keys.feedback_key,
            pytx.StopNCIIEndpoint.SubmitHashes: platform.keys.submit_key,
        },
        base_url_override=f"{live_server.url}/api/stopncii/v1",
    )


def _exchange(client: pytx.StopNCIIAPI) -> StopNCIISignalExchangeAPI:
    collab = CollaborationConfigBase(name="haven", api="stop_ncii", enabled=True)
    return StopNCIISignalExchangeAPI(collab, client)


def _fetch(exchange: StopNCIISignalExchangeAPI, checkpoint: Any = None) -> tuple[dict[Any, Any], list[Any]]:
    updates: dict[Any, Any] = {}
    checkpoints = []
    for delta in exchange.fetch_iter([], checkpoint):
        updates.update(delta.updates)
        checkpoints.append(delta.checkpoint)
    return updates, checkpoints


def test_pytx_fetches_every_record_across_pages_of_one_second(
    transactional_db: None, counsellor: Persona, case: Case, client: pytx.StopNCIIAPI
) -> None:
    cases.record_consent(actor=counsellor.user, case=case, scope="share", granted=True, method="phone")
    items = add_photos(counsellor, case, 2500)
    head, _ = FeedHead.objects.get_or_create(organisation_id=case.organisation_id)
    head.last_time = timezone.now().replace(microsecond=0) + dt.timedelta(seconds=120)
    head.save()
    actions.approve_case(actor=counsellor.user, case=case)
    updates, checkpoints = _fetch(_exchange(client))
    assert set(updates) == {("pdq", item.pdq) for item in items}
    assert all(metadata is not None for metadata in updates.values())
    times = [c.update_time for c in checkpoints]
    assert times == sorted(times), "pytx aborts a fetch whose checkpoint goes backwards"
    assert len(checkpoints) == 4  # pytx asks for 800 a page


def test_pytx_1_2_17_does_not_delete_a_withdrawn_hash(
    transactional_db: None, counsellor: Persona, shared_case: Case, client: pytx.StopNCIIAPI
) -> None:
    """pytx's _get_delta_mapping compares hashValue, not hashStatus, with Withdrawn/Deleted: a
    StopNCII-shaped client keeps a withdrawn hash. Haven sends the record as Withdrawn all the same;
    the native exchange (haven-threatexchange) is the path that deletes. If this test fails, pytx was
    fixed, and docs/sharing.md should say so."""
    exchange = _exchange(client)
    _updates, checkpoints = _fetch(exchange)
    cases.record_consent(
        actor=counsellor.user, case=shared_case, scope="share", granted=False, method="phone"
    )
    raw = [r for page in client.fetch_hashes_iter(checkpoints[-1].update_time) for r in page.hashRecords]
    assert {r.hashStatus for r in raw} == {pytx.StopNCIICaseStatus.Withdrawn}
    updates, _ = _fetch(exchange, checkpoints[-1])
    assert len(updates) == 2
    assert all(metadata is not None for metadata in updates.values())


def test_pytx_submits_feedback_that_lands_on_the_case(
    transactional_db: None, shared_case: Case, client: pytx.StopNCIIAPI
) -> None:
    record = next(r for page in client.fetch_hashes_iter() for r in page.hashRecords)
    client.submit_feedback(
        pytx.StopNCIISignalType.ImagePDQ, record.hashValue, pytx.StopNCIICSPFeedbackValue.Blocked, {"hma"}
    )
    feedback = Feedback.objects.get()
    assert (feedback.value, feedback.tags, feedback.item.case_id) == ("Blocked", ["hma"], shared_case.pk)
    again = next(
        r for page in client.fetch_hashes_iter() for r in page.hashRecords if r.hashValue == record.hashValue
    )
    assert [f.feedbackValue for f in again.CSPFeedbacks] == [pytx.StopNCIICSPFeedbackValue.Blocked]


def test_pytx_submits_hashes_into_quarantine(
    transactional_db: None, shared_case: Case, client: pytx.StopNCIIAPI
) -> None:
    client.submit_hash(pytx.StopNCIISignalType.ImagePDQ, "ab" * 32, {"found-on-upload"})
    entry = QuarantinedHash.objects.get()
    assert (entry.signal_type, entry.value, entry.status) == ("pdq", "ab" * 32, "pending")
    assert entry.partner_opinion == "Blocked"


def test_pytx_gets_a_clear_error_for_a_wrong_key(
    transactional_db: None, live_server: Any, platform: PartnerClient
) -> None:
    import requests

    wrong = pytx.StopNCIIAPI(
        platform.keys.subscription_key, "hvf_wrong", base_url_override=f"{live_server.url}/api/stopncii/v1"
    )
    with pytest.raises(requests.HTTPError) as caught:
        wrong.fetch_hashes()
    assert caught.value.response.status_code == 401
    assert "x-functions-key" in caught.value.response.json()["detail"]
