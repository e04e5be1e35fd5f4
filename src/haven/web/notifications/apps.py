from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "haven.web.notifications"
    label = "notifications"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        # Follow-ups are the cases app's; it must not import this one, so the sweep's source for
        # them is registered here (the takedown and monitoring apps register their own).
        from .sources import SOURCES, follow_ups_due

        if follow_ups_due not in SOURCES:
            SOURCES.append(follow_ups_due)
