from django.urls import path

from . import views

app_name = "portal"

urlpatterns = [
    path("", views.landing, name="landing"),
    path("submit/", views.submit_page, name="submit"),
    path("api/submit/", views.submit_api, name="submit_api"),
    path("status/", views.status, name="status"),
    path("add/", views.add_page, name="add"),
    path("api/add/", views.add_api, name="add_api"),
]
