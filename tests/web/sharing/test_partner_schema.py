"""Property-based testing of the partner APIs from their own OpenAPI specs (schemathesis): no server
errors and responses that conform to the spec, whatever a partner sends."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.cache import cache
from hypothesis import HealthCheck, settings
from schemathesis import checks

from haven.web.cases.models import Case
from haven.web.config.wsgi import application

from .conftest import PartnerClient

stopncii = schemathesis.openapi.from_wsgi("/api/stopncii/v1/openapi.json", application)
native = schemathesis.openapi.from_wsgi("/api/sharing/v1/openapi.json", application)

SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.response_schema_conformance]


@pytest.fixture(autouse=True)
def _keep_the_test_connection(wsgi_keeps_the_test_connection: None) -> None:
    pass


@pytest.fixture
def keys(shared_case: Case, make_partner: object) -> dict[str, str]:
    cache.clear()
    partner: PartnerClient = make_partner("Fuzzer", rate_limit=100_000)  # type: ignore[operator]
    return {
        "subscription": partner.keys.subscription_key,
        "FetchHashes": partner.keys.fetch_key,
        "feed": partner.keys.fetch_key,
        "SubmitFeedback": partner.keys.feedback_key,
        "opinions": partner.keys.feedback_key,
        "SubmitHashes": partner.keys.submit_key,
        "hashes": partner.keys.submit_key,
    }


def _call(case: schemathesis.Case, keys: dict[str, str]) -> None:
    endpoint = case.path.rsplit("/", 1)[-1]
    headers = {"Ocp-Apim-Subscription-Key": keys["subscription"], "x-functions-key": keys[endpoint]}
    response = case.call(headers=headers)
    case.validate_response(response, checks=CHECKS)


@stopncii.parametrize()
@SETTINGS
def test_the_stopncii_api_never_fails_with_a_server_error(
    case: schemathesis.Case, keys: dict[str, str]
) -> None:
    _call(case, keys)


@native.parametrize()
@SETTINGS
def test_the_native_api_never_fails_with_a_server_error(
    case: schemathesis.Case, keys: dict[str, str]
) -> None:
    _call(case, keys)
