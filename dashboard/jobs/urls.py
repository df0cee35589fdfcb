from django.urls import path

from dashboard.jobs import views

app_name = "jobs"

urlpatterns = [
    path("", views.job_list, name="list"),
    path("<int:pk>/", views.job_detail, name="detail"),
    path("<int:pk>/errors.csv", views.job_errors_csv, name="errors_csv"),
    path("<int:pk>/cancel/", views.job_cancel, name="cancel"),
    path("<int:pk>/pause/", views.job_pause, name="pause"),
    path("<int:pk>/resume/", views.job_resume, name="resume"),
    path("<int:pk>/retry/", views.job_retry, name="retry"),
    path("<int:pk>/acknowledge/", views.job_acknowledge, name="acknowledge"),
]
