from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "dashboard.campaigns"
    label = "campaigns"
    verbose_name = "Campaign test sends"
