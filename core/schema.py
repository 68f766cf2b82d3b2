"""Migration steps that take indexes off the tables that grow by millions of rows a day without rewriting or
revalidating them.

Django's ``AlterField`` to ``db_index=False`` drops and adds back a foreign key's constraint (which checks every
row again), and an index wanted under a new name would be built anew. These steps change the migration state
as the field and ``Meta.indexes`` now say, and in the database only drop (or rename) the indexes concerned;
backwards, they make them again. A ``_like`` twin (``varchar_pattern_ops``) exists on PostgreSQL only.
"""

from __future__ import annotations

from django.db import migrations


def _execute(schema_editor, statements: list[str]) -> None:
    for statement in statements:
        schema_editor.execute(statement)


def indexes_drop(
    *, state_operations: list, indexes: list[tuple[str, str, str]], with_like: tuple[str, ...] = ()
) -> migrations.SeparateDatabaseAndState:
    """Drop the indexes ``(table, index name, column)``, and on PostgreSQL the ``_like`` twins of those named in
    ``with_like`` (a foreign key to a text primary key has one)."""

    def forwards(apps, schema_editor):
        postgresql = schema_editor.connection.vendor == "postgresql"
        for _table, name, _column in indexes:
            names = [name, f"{name}_like"] if postgresql and name in with_like else [name]
            _execute(schema_editor, [f'DROP INDEX IF EXISTS "{n}"' for n in names])

    def backwards(apps, schema_editor):
        postgresql = schema_editor.connection.vendor == "postgresql"
        for table, name, column in indexes:
            _execute(schema_editor, [f'CREATE INDEX "{name}" ON "{table}" ("{column}")'])
            if postgresql and name in with_like:
                _execute(
                    schema_editor,
                    [f'CREATE INDEX "{name}_like" ON "{table}" ("{column}" varchar_pattern_ops)'],
                )

    return migrations.SeparateDatabaseAndState(
        state_operations=state_operations,
        database_operations=[migrations.RunPython(forwards, backwards)],
    )


def index_rename(
    *, state_operations: list, table: str, column: str, old: str, new: str
) -> migrations.SeparateDatabaseAndState:
    """Keep the index ``old`` of one text column as ``new`` (a ``Meta`` index, plain) and drop its ``_like``
    twin: a rename on PostgreSQL; elsewhere (SQLite, no rename of an index, small tables) made anew."""

    def forwards(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            _execute(
                schema_editor,
                [f'ALTER INDEX "{old}" RENAME TO "{new}"', f'DROP INDEX IF EXISTS "{old}_like"'],
            )
        else:
            _execute(
                schema_editor,
                [f'DROP INDEX IF EXISTS "{old}"', f'CREATE INDEX "{new}" ON "{table}" ("{column}")'],
            )

    def backwards(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            _execute(
                schema_editor,
                [
                    f'ALTER INDEX "{new}" RENAME TO "{old}"',
                    f'CREATE INDEX "{old}_like" ON "{table}" ("{column}" varchar_pattern_ops)',
                ],
            )
        else:
            _execute(
                schema_editor,
                [f'DROP INDEX IF EXISTS "{new}"', f'CREATE INDEX "{old}" ON "{table}" ("{column}")'],
            )

    return migrations.SeparateDatabaseAndState(
        state_operations=state_operations,
        database_operations=[migrations.RunPython(forwards, backwards)],
    )
