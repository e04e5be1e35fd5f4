from django.urls import path

from . import views

app_name = "federation"

urlpatterns = [
    path("federation/", views.network, name="network"),
    path("federation/peers/<int:pk>/", views.peer_action, name="peer_action"),
    path("federation/finds/<int:pk>/", views.decide, name="decide"),
]
