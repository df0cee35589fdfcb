from django.urls import path

from dashboard.overview import views

urlpatterns = [
    path("", views.overview, name="overview"),
]
