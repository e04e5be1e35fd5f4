from django.urls import path

from . import views

app_name = "training"

urlpatterns = [
    path("training/", views.exercises, name="exercises"),
    path("training/exercises/<slug:code>/check/", views.check, name="check"),
    path("training/mailbox/", views.mailbox, name="mailbox"),
    path("training/trainees/", views.trainees, name="trainees"),
    path("training/certificate.pdf", views.certificate, name="certificate"),
    path("training/sandboxes/", views.sandboxes, name="sandboxes"),
    path("training/sandboxes/<int:sandbox_id>/trainees/", views.add_trainee, name="add_trainee"),
    path("training/sandboxes/<int:sandbox_id>/reset/", views.reset_sandbox, name="reset"),
    path(
        "training/sandboxes/<int:sandbox_id>/trainees/<int:user_id>/remove/",
        views.remove_trainee,
        name="remove_trainee",
    ),
    path("training/trainees/<int:user_id>/certificate.pdf", views.certificate, name="trainee_certificate"),
]
