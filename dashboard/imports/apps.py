from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "dashboard.imports"
    label = "imports"
    verbose_name = "CSV imports"
