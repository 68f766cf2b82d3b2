from django.apps import AppConfig
from django.utils.translation import pgettext_lazy


class FilingConfig(AppConfig):
    name = "filing"
    verbose_name = pgettext_lazy("admin app", "Filing")
