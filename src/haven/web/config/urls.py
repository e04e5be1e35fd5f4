from django.urls import include, path

from haven.web.core.views import healthz, metrics_view
from haven.web.federation.api import federation_api
from haven.web.sharing.api import native_api, stopncii_api

from .api import api

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("api/v1/", api.urls),
    path("api/stopncii/v1/", stopncii_api.urls),
    path("api/sharing/v1/", native_api.urls),
    path("api/federation/v1/", federation_api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("haven.web.accounts.urls")),
    path("audit/", include("haven.web.audit.urls")),
    path("portal/learn/", include("haven.web.awareness.public_urls")),
    path("portal/", include("haven.web.portal.urls")),
    path("practice/s/", include("haven.web.training.practice")),
    path("practice/", include("haven.web.core.practice")),
    path("", include("haven.web.portal.staff_urls")),
    path("", include("haven.web.referrals.urls")),
    path("", include("haven.web.takedown.urls")),
    path("", include("haven.web.monitoring.urls")),
    path("", include("haven.web.sharing.urls")),
    path("", include("haven.web.federation.urls")),
    path("", include("haven.web.reports.urls")),
    path("", include("haven.web.notifications.urls")),
    path("", include("haven.web.awareness.urls")),
    path("", include("haven.web.training.urls")),
    path("", include("haven.web.cases.urls")),
]
