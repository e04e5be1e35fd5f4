"""Property-based testing of /api/v1 from its own OpenAPI spec (schemathesis): no server errors,
responses that conform to the spec, whatever the input."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from haven.web.cases import actions
from haven.web.config.wsgi import application

from .conftest import Persona

# The spec is static (no database access), so it can be loaded when the module is collected.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)


@pytest.fixture(autouse=True)
def _keep_the_test_connection(wsgi_keeps_the_test_connection: None) -> None:
    pass


@pytest.fixture
def token(db: None, counsellor: Persona) -> str:
    # A case with content and consent, so that path parameters can hit something real too.
    case = actions.create_case(actor=counsellor.user, contact="c", notes="n")
    actions.record_consent(actor=counsellor.user, case=case, scope="monitor", granted=True, method="phone")
    return counsellor.token


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_the_api_never_fails_with_a_server_error(case: schemathesis.Case, token: str) -> None:
    response = case.call(headers={"Authorization": f"Bearer {token}"})
    case.validate_response(
        response,
        checks=[
            checks.not_a_server_error,
            checks.status_code_conformance,
            checks.response_schema_conformance,
        ],
    )
