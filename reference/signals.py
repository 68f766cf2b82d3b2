"""Signals of reference data, for apps that keep copies of it (reference imports no app)."""

from django.dispatch import Signal

# Sent after institutions were written in bulk (bulk_update sends no post_save): their flags may have changed.
institutions_changed = Signal()
