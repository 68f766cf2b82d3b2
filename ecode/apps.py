from django.apps import AppConfig


class EcodeConfig(AppConfig):
    name = "ecode"
