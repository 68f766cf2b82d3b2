from django.apps import AppConfig
from django.utils.translation import pgettext_lazy


class SettlementConfig(AppConfig):
    name = "settlement"
    verbose_name = pgettext_lazy("admin app", "Settlement")
