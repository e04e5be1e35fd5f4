from django.urls import path

from . import views

app_name = "referrals"

urlpatterns = [
    path("cases/<str:number>/referrals/", views.refer, name="refer"),
    path("cases/<str:number>/referrals/<int:referral_id>/", views.update, name="update"),
]
