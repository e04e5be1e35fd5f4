from django.urls import path

from . import views

app_name = "notifications"

urlpatterns = [
    path("notifications/", views.notification_list, name="list"),
    path("notifications/<int:notification_id>/open/", views.open_notification, name="open"),
    path("notifications/read/", views.mark_all_read, name="read_all"),
    path("notifications/email/", views.email_preference, name="email"),
]
