from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReferralsConfig(AppConfig):
    name = "haven.web.referrals"
    label = "referrals"
    verbose_name = _("Referrals")

    def ready(self) -> None:
        # The case page shows a referrals panel; cases must not import this app, so it is told here.
        from haven.web.audit.models import EventType
        from haven.web.cases.views import CASE_PANELS, EVENT_LINES

        from .views import case_panel, timeline_line

        if case_panel not in CASE_PANELS:
            CASE_PANELS.append(case_panel)
        EVENT_LINES[EventType.REFERRAL_CREATED] = timeline_line
        EVENT_LINES[EventType.REFERRAL_UPDATED] = timeline_line
