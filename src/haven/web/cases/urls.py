from django.urls import path

from . import views

app_name = "cases"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("cases/", views.case_list, name="list"),
    path("cases/new/", views.case_create, name="create"),
    path("cases/bulk/", views.case_bulk, name="bulk"),
    path("cases/export.csv", views.case_export, name="export"),
    path("cases/<str:number>/", views.case_detail, name="detail"),
    path("cases/<str:number>/status/", views.case_status, name="status"),
    path("cases/<str:number>/summary.pdf", views.case_summary_pdf, name="summary_pdf"),
    path("cases/<str:number>/details/", views.case_classification, name="classification"),
    path("cases/<str:number>/contact/", views.case_contact, name="contact"),
    path("cases/<str:number>/notes/", views.case_note, name="note"),
    path("cases/<str:number>/safety-plan/", views.case_safety_plan, name="safety_plan"),
    path("cases/<str:number>/consent/", views.case_consent, name="consent"),
    path("cases/<str:number>/consent/all/", views.case_consent_all, name="consent_all"),
    path("cases/<str:number>/content/paste/", views.content_paste, name="content_paste"),
    path("cases/<str:number>/content/add/", views.content_add, name="content_add"),
    path("cases/<str:number>/content/<int:item_id>/remove/", views.content_remove, name="content_remove"),
    path("cases/<str:number>/follow-ups/", views.follow_up_add, name="follow_up_add"),
    path(
        "cases/<str:number>/follow-ups/<int:follow_up_id>/done/", views.follow_up_done, name="follow_up_done"
    ),
]
