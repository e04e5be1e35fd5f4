from django.urls import path

from . import staff

app_name = "portal_staff"

urlpatterns = [
    path("cases/<str:number>/portal/unlock/", staff.unlock, name="unlock"),
    path("cases/<str:number>/portal/messages/", staff.messages_page, name="messages"),
]
