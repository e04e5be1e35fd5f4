"""API bearer tokens: random, shown once, stored as SHA-256."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.db import transaction
from django.utils import timezone

from haven.web.audit.chain import append
from haven.web.audit.models import EventType

from .models import ApiToken, User

PREFIX = "hvn_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(*, actor: Any, user: User, name: str = "") -> str:
    """Create a token for ``user`` and return it; only its digest is kept."""
    token = PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        record = ApiToken.objects.create(user=user, name=name[:100], prefix=token[:12], digest=_digest(token))
        append(
            actor=actor,
            event_type=EventType.TOKEN_CREATED,
            organisation=user.organisation_id,
            obj=record,
            summary={"user": user.username},
        )
    return token


def user_for_token(token: str) -> User | None:
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    record = (
        ApiToken.objects.select_related("user").filter(digest=_digest(token), revoked_at__isnull=True).first()
    )
    if record is None or not record.user.is_active:
        return None
    now = timezone.now()
    if record.last_used_at is None or (now - record.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=record.pk).update(last_used_at=now)
    return record.user
