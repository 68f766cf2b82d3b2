from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HisConfig(AppConfig):
    name = "his"
    verbose_name = _("National HIS interface")
