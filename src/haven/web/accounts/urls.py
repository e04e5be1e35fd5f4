from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("two-factor/", views.two_factor_view, name="two_factor"),
    path("two-factor/set-up/", views.two_factor_setup_view, name="two_factor_setup"),
    path("logout/", views.logout_view, name="logout"),
    path("centre/", views.centre_view, name="centre"),
]
