"""Which database constraint an IntegrityError broke, on PostgreSQL and SQLite, without the values it held."""

from __future__ import annotations

from django.db import IntegrityError


def violated_constraint(error: IntegrityError) -> str:
    """The broken constraint's name (PostgreSQL), or what SQLite names: a CHECK constraint's name, the
    ``table.column`` list of a unique one, ``FOREIGN KEY``/``NOT NULL ...``; empty if the database said nothing.

    Never the offending values (PostgreSQL's message has them, e.g. an ID number in a unique key): fit for a log
    line and an error's fields.
    """
    cause = error.__cause__
    diag = getattr(cause, "diag", None)
    if diag is not None:  # psycopg
        return diag.constraint_name or ""
    # SQLite: "UNIQUE constraint failed: settlement_settlement.code_event_id", "CHECK constraint failed: name",
    # "FOREIGN KEY constraint failed": names and columns only.
    head, separator, rest = str(cause or error).partition(" constraint failed")
    if not separator:
        return ""
    return rest.lstrip(": ").strip() or head.strip()
