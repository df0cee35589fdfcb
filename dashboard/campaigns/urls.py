from django.urls import path

from dashboard.campaigns import views

app_name = "campaigns"

urlpatterns = [
    path("test-send/", views.test_send, name="test_send"),
    path("test-send/people/", views.people, name="people"),
    path("allowlist/<int:pk>/", views.allowlist, name="allowlist"),
    path(
        "allowlist/<int:pk>/<int:entry_pk>/remove/", views.allowlist_remove, name="allowlist_remove"
    ),
]
