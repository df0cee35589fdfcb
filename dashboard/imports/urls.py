from django.urls import path

from dashboard.imports import views

app_name = "imports"

urlpatterns = [
    path("", views.import_list, name="list"),
    path("new/", views.import_new, name="new"),
    path("sample.csv", views.import_sample_csv, name="sample_csv"),
    path("sample-windows-1252.csv", views.import_sample_windows_csv, name="sample_windows_csv"),
    path("sample-10000.csv", views.import_sample_many_csv, name="sample_many_csv"),
    path("<int:pk>/", views.import_detail, name="detail"),
    path("<int:pk>/reading/", views.import_reading, name="reading"),
    path("<int:pk>/layout/", views.import_layout, name="layout"),
    path("<int:pk>/mapping/", views.import_mapping, name="mapping"),
    path("<int:pk>/constants/", views.import_constants, name="constants"),
    path("<int:pk>/date-order/", views.import_date_order, name="date_order"),
    path("<int:pk>/refresh/", views.import_refresh, name="refresh"),
    path("<int:pk>/confirm/", views.import_confirm, name="confirm"),
    path("<int:pk>/discard/", views.import_discard, name="discard"),
    path("<int:pk>/invalid.csv", views.import_invalid_csv, name="invalid_csv"),
    path("<int:pk>/rows/<int:number>/fix/", views.import_fix_cell, name="fix_cell"),
]
