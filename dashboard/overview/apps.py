from django.apps import AppConfig


class OverviewConfig(AppConfig):
    name = "dashboard.overview"
    label = "overview"
    verbose_name = "Overview"
