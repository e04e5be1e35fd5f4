from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FederationConfig(AppConfig):
    name = "haven.web.federation"
    label = "federation"
    verbose_name = _("Federation")

    def ready(self) -> None:
        # Cases must not import this app: lookups reach the imported banks through a hook.
        from haven.web.cases.actions import consent_withdrawn
        from haven.web.cases.matching import FOREIGN_LOOKUPS
        from haven.web.cases.views import CASE_PANELS

        from .views import case_panel

        consent_withdrawn.connect(_withdrawn, dispatch_uid="federation.consent_withdrawn")
        if imported_lookup not in FOREIGN_LOOKUPS:
            FOREIGN_LOOKUPS.append(imported_lookup)
        if case_panel not in CASE_PANELS:
            CASE_PANELS.append(case_panel)


def _withdrawn(sender: Any, case: Any, scope: str, **kwargs: Any) -> None:
    """Transfer consent withdrawn (by itself, or with everything by "delete my data"): the case's
    open offers are revoked in the same transaction."""
    from .actions.transfers import withdraw_offers

    if scope == "transfer":
        withdraw_offers(case)


def imported_lookup(
    *,
    actor: Any,
    organisation_id: int,
    url: str | None,
    page_url: str = "",
    how: str = "lookup",
    evidence_sha256: str = "",
    **query: Any,
) -> list[Any]:
    """A lookup's matches in the banks imported from peer centres; with the address where the
    content was seen, each is reported to its centre (``how``: a lookup, or evidence capture)."""
    from django.utils import timezone

    from haven.web.cases.matching import ForeignHit

    from . import matching
    from .actions import Find, record_finds

    found = matching.lookup(organisation_id, **query)
    reported = False
    if url and found:
        now = timezone.now()
        best: dict[int, Any] = {}
        for hit, item in found:
            if item.pk not in best or hit.distance < best[item.pk][0].distance:
                best[item.pk] = (hit, item)
        finds = [
            Find(
                item_id=item.pk,
                url=url,
                page_url=page_url,
                found_at=now,
                match_kind=hit.signal or hit.kind,
                distance=hit.distance,
                evidence_sha256=evidence_sha256,
            )
            for hit, item in best.values()
        ]
        record_finds(actor=actor, organisation_id=organisation_id, how=how, finds=finds)
        reported = True
    return [
        ForeignHit(hit=hit, centre=item.peer.name, item=item.ref, kind=item.kind, reported=reported)
        for hit, item in found
    ]
