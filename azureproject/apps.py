from django.apps import AppConfig


class AzureProjectConfig(AppConfig):
    """The project package as an app, for its management commands."""

    name = "azureproject"
    verbose_name = "Azure glue"
