"""Model fields for personal data."""

from __future__ import annotations

from django.db import models

from . import pii


class EncryptedTextField(models.TextField):
    """Stores text encrypted with `core.pii`; reads give the clear text. Not searchable: pair with a blind index."""

    def contribute_to_class(self, cls, name, private_only=False):
        super().contribute_to_class(cls, name, private_only=private_only)
        self._context = f"{cls._meta.app_label}.{cls._meta.model_name}.{name}"

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return pii.decrypt(value, context=self._context)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return pii.encrypt(value, context=self._context)

    def get_lookup(self, lookup_name):
        if lookup_name not in ("isnull",):
            raise TypeError(
                f"{self.__class__.__name__} cannot be filtered with '{lookup_name}': use its hash"
            )
        return super().get_lookup(lookup_name)
