from django.apps import AppConfig
from django.db.models.signals import post_save
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("People and roles")

    def ready(self):
        from reference.models import Institution
        from reference.signals import institutions_changed

        from . import schema  # noqa: F401 - registers the OpenAPI authentication extensions
        from .models import ApiKey, User
        from .services import api_key_cache_clear

        # Counter keys are remembered per process for a few seconds (accounts.services.api_key_lookup); a change
        # to a key, its operator or its institution (revoked, deactivated) must be seen at once in this process.
        for model in (ApiKey, User, Institution):
            post_save.connect(
                lambda **kwargs: api_key_cache_clear(),
                sender=model,
                weak=False,
                dispatch_uid=f"apikey-{model}",
            )
        institutions_changed.connect(
            lambda **kwargs: api_key_cache_clear(), weak=False, dispatch_uid="apikey-institutions"
        )
