"""What every JSON API of Haven's accepts as a request body, in one place.

A body is a JSON object (an array, for the few endpoints that take a list) sent as
``application/json`` or a ``+json`` type; anything else is refused before any field is looked at,
so ``null``, ``123``, ``"str"`` or a form post never reach an action as an empty request.

Staff schemas (:class:`Input`) also refuse fields they do not know, so a misspelt field is an error
that names it, not a value silently dropped.  Schemas that partners and other centres post to
(:class:`PeerInput`) ignore unknown fields instead: a newer client may send fields an older centre
does not know yet, and the exchange must keep working across versions.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import HttpError
from ninja.parser import Parser
from pydantic import ConfigDict, field_validator

JSON_TYPES = ("application/json",)


class BodyRefused(Exception):
    """A request body that is not a JSON object sent as JSON: a status and a one-line reason."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media in JSON_TYPES or (media.startswith("application/") and media.endswith("+json"))


class JsonObjectParser(Parser):
    """The request body must be ``application/json`` and hold a JSON object (or array)."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        content_type = request.content_type or request.headers.get("Content-Type", "")
        if not _is_json(content_type):
            raise BodyRefused(
                415, f"the request body must be sent as application/json, not {content_type or 'untyped'}"
            )
        try:
            data = json.loads(request.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BodyRefused(400, f"the request body is not valid JSON ({exc})") from None
        if not isinstance(data, dict | list):
            kind = {str: "a string", int: "a number", float: "a number", bool: "true or false"}.get(
                type(data), "null"
            )
            raise BodyRefused(400, f"the request body must be a JSON object or array, not {kind}")
        # An array reaches only the endpoints whose body is a list; for any other, the schema
        # answers 422 ("Input should be a valid dictionary or object").
        return data  # type: ignore[return-value]


def strict_bodies(api: NinjaAPI) -> None:
    """Make ``api`` parse bodies with :class:`JsonObjectParser` and answer a refused body with its
    own status and reason (django-ninja wraps any parser error in a bare 400)."""
    api.parser = JsonObjectParser()

    @api.exception_handler(HttpError)
    def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        cause = exc.__cause__
        if isinstance(cause, BodyRefused):
            return api.create_response(request, {"detail": cause.detail}, status=cause.status)
        return api.create_response(request, {"detail": str(exc)}, status=exc.status_code)


class PeerInput(Schema):
    """A body posted by a partner or another centre: no text may hold NUL (PostgreSQL cannot store
    it, and no client means it); fields this version does not know are ignored."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        texts = value if isinstance(value, list | set | tuple) else [value]
        if any(isinstance(t, str) and "\x00" in t for t in texts):
            raise ValueError("text must not contain NUL characters")
        return value


class Input(PeerInput):
    """A body posted by staff or their scripts: as :class:`PeerInput`, and an unknown field is an
    error that names it."""

    model_config = ConfigDict(extra="forbid")
