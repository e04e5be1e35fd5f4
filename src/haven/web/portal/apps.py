from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    name = "haven.web.portal"
    label = "portal"
    verbose_name = _("Survivor portal")

    def ready(self) -> None:
        # The case page shows whether her portal access is locked; cases must not import this app.
        from haven.web.cases.views import CASE_PANELS

        from .staff import case_panel

        if case_panel not in CASE_PANELS:
            CASE_PANELS.append(case_panel)
