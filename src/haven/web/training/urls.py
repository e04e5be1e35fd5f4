from django.urls import path

from . import views

app_name = "training"

urlpatterns = [
    path("training/mailbox/", views.mailbox, name="mailbox"),
]
