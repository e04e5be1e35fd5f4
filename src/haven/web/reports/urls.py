from django.urls import path

from . import views

app_name = "reports"

urlpatterns = [
    path("reports/", views.report_page, name="report"),
    path("reports/download", views.download, name="download"),
    path("reports/pooled/fetch", views.fetch_pooled, name="fetch-pooled"),
    path("reports/kept/<int:pk>", views.stored, name="stored"),
]
