from django.urls import path

from . import views

app_name = "sharing"

urlpatterns = [
    path("cases/<str:number>/sharing/approve/", views.approve, name="approve"),
    path("cases/<str:number>/sharing/<int:item_id>/withdraw/", views.unshare, name="unshare"),
    path("sharing/partners/", views.partners, name="partners"),
    path("sharing/partners/<int:pk>/", views.partner_action, name="partner_action"),
    path("sharing/quarantine/", views.quarantine, name="quarantine"),
    path("sharing/quarantine/<int:pk>/", views.quarantine_decide, name="quarantine_decide"),
]
