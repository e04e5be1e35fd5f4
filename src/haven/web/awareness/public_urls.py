"""The public pages, under the survivor portal (``/portal/learn/``) so that its rules hold there."""

from django.urls import path

from . import views

app_name = "learn"

urlpatterns = [
    path("", views.centres, name="centres"),
    path("<slug:slug>/", views.index, name="index"),
    path("<slug:slug>/<slug:topic>/", views.page_view, name="page"),
]
