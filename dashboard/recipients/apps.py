from django.apps import AppConfig


class RecipientsConfig(AppConfig):
    name = "dashboard.recipients"
    label = "recipients"
    verbose_name = "Recipient lookup and editing"
