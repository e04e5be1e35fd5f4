"""The portal's JSON endpoint takes each photo's robust signals, checked as strictly as the API."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from haven.web.accounts.models import Organisation
from haven.web.cases.models import Case, ContentItem
from haven.web.portal import actions

from .conftest import PDQ, item

pytestmark = pytest.mark.django_db

SUBMIT = "/portal/api/submit/"
EXTRA = [{"kind": "centre80", "pdq": "0f" * 32, "quality": 81}, {"kind": "top50", "pdq": "a1" * 32}]


def _post(body: Any) -> Any:
    return Client().post(SUBMIT, data=json.dumps(body), content_type="application/json")


def test_a_submission_keeps_each_photos_extra_signals(org_a: Organisation) -> None:
    response = _post({"items": [item(extra=EXTRA), item()], "consents": {"monitor": True}})
    assert response.status_code == 201, response.content
    first, second = ContentItem.objects.order_by("id")
    assert first.extra == EXTRA
    assert second.extra == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([{"kind": "centre80", "pdq": "xyz"}], "Extra signal 1 (centre80): the PDQ hash must be 64"),
        ([{"kind": "middle", "pdq": PDQ}], "Extra signal 1: unknown kind “middle”"),
        (
            [{"kind": "top50", "pdq": PDQ}, {"kind": "top50", "pdq": PDQ}],
            "a “top50” signal was given already",
        ),
        ([{"kind": "top50", "pdq": PDQ}] * 12, "at most 11 extra signals"),
        ([{"kind": "top50\x00", "pdq": PDQ}], "must not contain NUL characters"),
        ("top50", "The extra signals must be a list"),
    ],
)
def test_a_submission_with_a_bad_extra_signal_is_refused_and_nothing_is_stored(
    org_a: Organisation, extra: Any, message: str
) -> None:
    response = _post({"items": [item(), item(extra=extra)], "consents": {"monitor": True}})
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert not Case.objects.exists()
    assert not ContentItem.objects.exists()


def test_delete_my_data_blanks_the_extra_signals(org_a: Organisation) -> None:
    case, _number, _pin = actions.submit_hashes(
        organisation=org_a, items=[item(extra=EXTRA)], consents={"monitor": True}
    )
    actions.delete_my_data(case=case)
    assert ContentItem.objects.get().extra == []
