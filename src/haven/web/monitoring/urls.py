from django.urls import path

from . import views

app_name = "monitoring"

urlpatterns = [
    path("monitoring/", views.review, name="review"),
    path("monitoring/sources/", views.sources, name="sources"),
    path("monitoring/sources/<int:pk>/", views.sources, name="source"),
    path("monitoring/sources/<int:pk>/run/", views.run_now, name="run_now"),
    path("monitoring/runs/<int:pk>/", views.run_detail, name="run"),
    path("monitoring/candidates/<int:pk>/image/", views.candidate_image, name="image"),
    path("monitoring/candidates/<int:pk>/decide/", views.decide, name="decide"),
]
