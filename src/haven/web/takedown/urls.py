from django.urls import path

from . import views

app_name = "takedown"

urlpatterns = [
    path("takedown/", views.queue, name="queue"),
    path("takedown/bulk/", views.bulk, name="bulk"),
    path("takedown/sightings/<int:pk>/", views.sighting_detail, name="sighting"),
    path("takedown/sightings/<int:pk>/act/", views.sighting_action, name="sighting_action"),
    path("takedown/evidence/<int:pk>/screenshot/", views.evidence_screenshot, name="evidence_screenshot"),
    path("takedown/sightings/<int:pk>/upload/", views.evidence_upload, name="evidence_upload"),
    path("takedown/notices/", views.notice_list, name="notices"),
    path("takedown/notices/new/", views.notice_new, name="notice_new"),
    path("takedown/notices/export.<str:fmt>", views.notice_export, name="notice_export"),
    path("takedown/notices/<int:pk>/", views.notice_detail, name="notice"),
    path("takedown/notices/<int:pk>/pdf/", views.notice_pdf_view, name="notice_pdf"),
    path("takedown/notices/<int:pk>/act/", views.notice_action, name="notice_action"),
    path("takedown/platforms/", views.platforms, name="platforms"),
    path("takedown/platforms/<int:pk>/", views.platforms, name="platform"),
    path("cases/<str:number>/sightings/", views.add_sightings, name="add_sightings"),
]
