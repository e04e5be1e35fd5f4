from django.urls import path

from . import views

app_name = "monitoring"

urlpatterns = [
    path("monitoring/", views.review, name="review"),
    path("monitoring/sources/", views.sources, name="sources"),
    path("monitoring/grayscale/", views.grayscale, name="grayscale"),
    path("monitoring/review-load/", views.review_load, name="review_load"),
    path("monitoring/sources/<int:pk>/", views.sources, name="source"),
    path("monitoring/sources/<int:pk>/run/", views.run_now, name="run_now"),
    path("monitoring/runs/<int:pk>/", views.run_detail, name="run"),
    path("monitoring/candidates/<int:pk>/image/", views.candidate_image, name="image"),
    path("monitoring/candidates/<int:pk>/decide/", views.decide, name="decide"),
    path("monitoring/text/<int:pk>/decide/", views.text_decide, name="text_decide"),
    path("cases/<str:number>/identifiers/", views.identifier_add, name="identifier_add"),
    path("cases/<str:number>/identifiers/show/", views.identifiers_show, name="identifiers_show"),
    path(
        "cases/<str:number>/identifiers/<int:pk>/remove/", views.identifier_remove, name="identifier_remove"
    ),
]
