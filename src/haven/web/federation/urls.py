from django.urls import path

from . import views

app_name = "federation"

urlpatterns = [
    path("federation/", views.network, name="network"),
    path("federation/peers/<int:pk>/", views.peer_action, name="peer_action"),
    path("federation/finds/<int:pk>/", views.decide, name="decide"),
    path("cases/<str:number>/transfer/", views.offer, name="offer"),
    path("federation/transfers/", views.transfer_list, name="transfers"),
    path("federation/transfers/out/<int:pk>/revoke/", views.revoke, name="revoke"),
    path("federation/transfers/in/<int:pk>/", views.answer, name="answer"),
]
