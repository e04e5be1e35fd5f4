"""The figures a centre sends its peers for pooling, on the federation API (partner keys)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from ninja import Query, Schema
from ninja.errors import HttpError
from pydantic import Field

from haven.web.federation.api import federation_api
from haven.web.sharing.api import READ_ERRORS, PartnerKey, _partner
from haven.web.sharing.models import Endpoint, PartnerKind

from .actions import rules
from .periods import Period, PeriodError
from .pooled import answer_for_partner


class FiguresParams(Schema):
    period: str = Field(
        ..., max_length=16, description="a year (2026), a quarter (2026-Q3) or a month (2026-11)"
    )


@federation_api.get(
    "/figures",
    auth=PartnerKey(Endpoint.FETCH),
    response={200: dict[str, Any], **READ_ERRORS},
    summary="This centre's GBVIMS tables for a period, already suppressed, for pooling",
)
def figures(request: HttpRequest, params: Query[FiguresParams]) -> dict[str, Any]:
    partner = _partner(request)
    if partner.kind != PartnerKind.CENTRE:
        raise PermissionDenied("only partner centres may ask for figures")
    try:
        period = Period.parse(params.period)
    except PeriodError as exc:
        raise HttpError(400, str(exc)) from None
    return answer_for_partner(partner, period, rules())
