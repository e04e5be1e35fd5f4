from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SharingConfig(AppConfig):
    name = "haven.web.sharing"
    label = "sharing"
    verbose_name = _("Sharing")

    def ready(self) -> None:
        # Cases must not import this app: it is told of consent and removals through signals,
        # inside the transaction that makes the change, so partners see it with the next fetch.
        from haven.web.cases.actions import consent_granted, consent_withdrawn, content_removed
        from haven.web.cases.views import CASE_PANELS

        from .views import case_panel

        consent_withdrawn.connect(_withdrawn, dispatch_uid="sharing.consent_withdrawn")
        consent_granted.connect(_granted, dispatch_uid="sharing.consent_granted")
        content_removed.connect(_removed, dispatch_uid="sharing.content_removed")
        if case_panel not in CASE_PANELS:
            CASE_PANELS.append(case_panel)


def _withdrawn(sender: Any, case: Any, scope: str, **kwargs: Any) -> None:
    from .actions import withdraw_case

    if scope == "share":
        withdraw_case(case)


def _granted(sender: Any, case: Any, scope: str, **kwargs: Any) -> None:
    from .actions import reshare_case

    if scope == "share":
        reshare_case(case)


def _removed(sender: Any, items: Any, erased: bool, **kwargs: Any) -> None:
    from .actions import withdraw_items

    withdraw_items(items, erased=erased)
