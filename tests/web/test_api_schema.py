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


def test_sequences_of_calls_never_fail_with_a_server_error(token: str) -> None:
    """Stateful: schemathesis links the operations itself (a case's number from the answer that
    made or listed it, into every operation on that case) and runs sequences of them."""
    statuses: list[tuple[str, int]] = []

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def before_call(self, case: schemathesis.Case) -> None:
            # Every request as the counsellor (the generated ones would carry made-up tokens).
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}

        def after_call(self, response: object, case: schemathesis.Case) -> None:
            statuses.append((case.operation.path, response.status_code))  # type: ignore[attr-defined]

        def validate_response(self, response: object, case: schemathesis.Case, **kwargs: object) -> None:
            case.validate_response(
                response,  # type: ignore[arg-type]
                checks=[
                    checks.not_a_server_error,
                    checks.status_code_conformance,
                    checks.response_schema_conformance,
                ],
            )

    Workflow.run(
        settings=settings(
            max_examples=100,
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            # The same sequences on every run: a random draw reached a case through the links as
            # few as 7 times in a hundred sequences, and the count below must not be luck.
            derandomize=True,
        )
    )
    # The sequences reached real cases through the links: a made-up case number never names one,
    # so each success on a case's path used a number an earlier answer gave.
    on_a_case = [status for path, status in statuses if "{number}" in path and status < 300]
    assert len(on_a_case) >= 10, statuses
