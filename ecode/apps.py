from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EcodeConfig(AppConfig):
    name = "ecode"
    verbose_name = _("E-code")
