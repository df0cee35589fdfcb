from django.apps import AppConfig


class HousekeepingConfig(AppConfig):
    name = "dashboard.housekeeping"
    label = "housekeeping"
    verbose_name = "Housekeeping"
