"""API bearer tokens: random, shown once, stored as SHA-256 (created in ``actions.create_token``)."""

from __future__ import annotations

import hashlib

from django.utils import timezone

from .models import ApiToken, User

PREFIX = "hvn_"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def user_for_token(token: str) -> User | None:
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    record = (
        ApiToken.objects.select_related("user")
        .filter(digest=token_digest(token), revoked_at__isnull=True)
        .first()
    )
    if record is None or not record.user.is_active:
        return None
    now = timezone.now()
    if record.last_used_at is None or (now - record.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=record.pk).update(last_used_at=now)
    return record.user
