"""Staff pages: the editor, revisions, campaign banners and the poster."""

from django.urls import path

from . import views

app_name = "awareness"

urlpatterns = [
    path("awareness/", views.manage, name="manage"),
    path("awareness/poster.pdf", views.poster, name="poster"),
    path("awareness/campaigns/<int:campaign_id>/remove/", views.remove_campaign, name="remove_campaign"),
    path("awareness/revisions/<int:revision_id>/restore/", views.restore, name="restore"),
    path("awareness/<slug:topic>/<str:language>/", views.edit, name="edit"),
]
