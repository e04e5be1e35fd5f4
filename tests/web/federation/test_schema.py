"""Property-based testing of the federation API from its own OpenAPI spec (schemathesis): no
server errors and answers that conform to the spec, whatever a peer centre sends."""

from __future__ import annotations

import uuid

import schemathesis
from django.core.cache import cache
from hypothesis import HealthCheck, settings
from schemathesis import checks

from haven.web.config.wsgi import application
from haven.web.sharing.actions import create_partner

from ..conftest import Persona

schema = schemathesis.openapi.from_wsgi("/api/federation/v1/openapi.json", application)
CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.response_schema_conformance]


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_the_federation_api_never_fails_with_a_server_error(
    case: schemathesis.Case, admin: Persona, wsgi_keeps_the_test_connection: None
) -> None:
    cache.clear()
    _partner, keys = create_partner(
        actor=admin.user,
        organisation=admin.user.organisation,
        name=f"Peer centre {uuid.uuid4()}",
        kind="centre",
        rate_limit=100_000,
    )
    # Reads take the fetch key; every write (finds, key cards, answers to offers) the feedback key.
    key = keys.fetch_key if case.method.upper() == "GET" else keys.feedback_key
    response = case.call(headers={"Ocp-Apim-Subscription-Key": keys.subscription_key, "x-functions-key": key})
    case.validate_response(response, checks=CHECKS)
