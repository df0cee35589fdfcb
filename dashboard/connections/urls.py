from django.urls import path

from dashboard.connections import views

app_name = "connections"

urlpatterns = [
    path("", views.connection_list, name="list"),
    path("new/", views.connection_new, name="new"),
    path("<int:pk>/", views.connection_detail, name="detail"),
    path("<int:pk>/test/", views.connection_test, name="test"),
    path("<int:pk>/refresh/", views.connection_refresh, name="refresh"),
    path("<int:pk>/active/", views.connection_toggle_active, name="toggle_active"),
    path("<int:pk>/delete/", views.connection_delete, name="delete"),
    path("<int:pk>/fields/", views.field_settings, name="fields"),
    path("<int:pk>/fields/toggle/", views.field_toggle, name="field_toggle"),
    path("<int:pk>/fields/custom/", views.custom_field_add, name="custom_field_add"),
    path(
        "<int:pk>/fields/custom/<str:key>/", views.custom_field_change, name="custom_field_change"
    ),
]
