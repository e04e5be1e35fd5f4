"""The organisation's own keys, kept in the database with their private halves encrypted."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from haven.web.core import crypto

from . import keys
from .models import CentreIdentity

SIGNING_CONTEXT = "federation.CentreIdentity.signing"
EXCHANGE_CONTEXT = "federation.CentreIdentity.exchange"


def _pk(organisation: object) -> int:
    """An Organisation or its id, as the id."""
    if isinstance(organisation, int):
        return organisation
    value = getattr(organisation, "pk", None)
    if not isinstance(value, int):
        raise TypeError("an organisation or its id")
    return value


def identity(organisation: object) -> CentreIdentity:
    """The organisation's keys, made the first time they are asked for."""
    pk = _pk(organisation)
    found = CentreIdentity.objects.filter(organisation_id=pk).first()
    if found is not None:
        return found
    signing, exchange = keys.new_private_keys()
    signing_public, exchange_public = keys.public_of(signing, exchange)
    try:
        with transaction.atomic():
            return CentreIdentity.objects.create(
                organisation_id=pk,
                signing_private_encrypted=crypto.encrypt_bytes(signing, SIGNING_CONTEXT),
                exchange_private_encrypted=crypto.encrypt_bytes(exchange, EXCHANGE_CONTEXT),
                signing_public=keys.b64(signing_public),
                exchange_public=keys.b64(exchange_public),
            )
    except IntegrityError:  # made meanwhile by another request
        return CentreIdentity.objects.get(organisation_id=pk)


def key_card(organisation: object) -> keys.KeyCard:
    from haven.web.accounts.models import Organisation

    pk = _pk(organisation)
    found = identity(pk)
    name = Organisation.objects.filter(pk=pk).values_list("name", flat=True).first() or ""
    return keys.KeyCard(
        centre=name,
        signing_key=keys.unb64(found.signing_public, "signing key", 32),
        exchange_key=keys.unb64(found.exchange_public, "exchange key", 32),
    )


def sign(organisation: object, data: bytes) -> bytes:
    found = identity(organisation)
    return keys.sign(crypto.decrypt_bytes(found.signing_private_encrypted, SIGNING_CONTEXT), data)


def open_sealed(organisation: object, sealed: object, context: bytes) -> bytes:
    found = identity(organisation)
    private = crypto.decrypt_bytes(found.exchange_private_encrypted, EXCHANGE_CONTEXT)
    return keys.open_sealed(private, sealed, context)
