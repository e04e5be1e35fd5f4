from django.urls import path

from . import views

app_name = "referrals"

urlpatterns = [
    path("services/", views.services, name="services"),
    path("services/<int:service_id>/deactivate/", views.deactivate, name="deactivate"),
    path("services/<int:service_id>/reactivate/", views.reactivate, name="reactivate"),
    path("cases/<str:number>/referrals/", views.refer, name="refer"),
    path("cases/<str:number>/referrals/<int:referral_id>/", views.update, name="update"),
]
