"""The JSON API at /api/v1: bearer tokens, the same permissions as the UI, clear errors."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, ValidationError
from ninja.security import HttpBearer

from haven import __version__
from haven.web.accounts.tokens import user_for_token
from haven.web.cases.api import router as cases_router
from haven.web.core.api import strict_bodies
from haven.web.core.errors import ActionError, NotFound, invalid_input
from haven.web.federation.api import router as federation_router
from haven.web.monitoring.api import router as monitoring_router
from haven.web.referrals.api import router as referrals_router
from haven.web.sharing.api import router as sharing_router
from haven.web.takedown.api import router as takedown_router


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        return user_for_token(token)


api = NinjaAPI(
    title="Haven API",
    version=__version__,
    description="Cases, consent, content hashes, lookups, the takedown desk and monitoring. "
    "Authenticate with `Authorization: Bearer TOKEN` "
    "(`haven token create USERNAME`).",
    auth=BearerToken(),
    urls_namespace="api",
    docs_url="/docs",
)
strict_bodies(api)
api.add_router("/", cases_router)
api.add_router("/", referrals_router)
api.add_router("/", takedown_router)
api.add_router("/", monitoring_router)
api.add_router("/", sharing_router)
api.add_router("/", federation_router)


@api.exception_handler(ActionError)
def _action_error(request: HttpRequest, exc: ActionError) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc)}, status=422)


@api.exception_handler(NotFound)
def _not_found(request: HttpRequest, exc: NotFound) -> HttpResponse:
    return api.create_response(request, {"detail": "not found"}, status=404)


@api.exception_handler(PermissionDenied)
def _forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc) or "permission denied"}, status=403)


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return api.create_response(request, invalid_input(exc), status=422)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return api.create_response(request, {"detail": "a valid bearer token is required"}, status=401)
