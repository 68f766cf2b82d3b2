"""The tables that grow by millions of rows a day keep no index another one already serves: every insert pays
each index, and a btree index whose columns lead another index of the same table (with the same condition)
answers nothing the longer one cannot. A unique or primary key index is never redundant (it enforces a rule);
a ``*_pattern_ops`` index (Django's ``_like`` twin of an indexed text column, for ``LIKE 'x%'``) counts as
redundant unless ``ALLOWED`` names it with the query that needs it.

PostgreSQL only: the indexes read are PostgreSQL's (SQLite keeps whatever Django makes, at embedded sizes).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.db import connection

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_index is PostgreSQL's"),
]

LARGE_TABLES = [
    "settlement_settlement",
    "settlement_settlementline",
    "ecode_codeevent",
    "notifications_notification",
    "notifications_delivery",
    "core_auditevent",
]

# (table, index) -> the query that needs it although a longer index starts with its columns.
ALLOWED: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class _Index:
    name: str
    columns: tuple[str, ...]
    enforces: bool  # unique or primary key
    predicate: str | None
    pattern: bool  # a *_pattern_ops index (LIKE 'x%' only)
    comparable: bool  # a plain btree of columns (no expression)


def _indexes(table: str) -> list[_Index]:
    """The indexes defined on ``table`` (on a partitioned table: its partitioned indexes)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.relname, x.indisunique OR x.indisprimary, pg_get_expr(x.indpred, x.indrelid),"
            " pg_get_indexdef(x.indexrelid), am.amname = 'btree' AND x.indexprs IS NULL,"
            " ARRAY(SELECT a.attname::text FROM unnest((x.indkey::int2[])[0:x.indnkeyatts - 1])"
            "   WITH ORDINALITY AS k(attnum, n) JOIN pg_attribute a ON a.attrelid = x.indrelid"
            "   AND a.attnum = k.attnum ORDER BY k.n)"
            " FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_am am ON am.oid = i.relam"
            " WHERE x.indrelid = %s::regclass ORDER BY i.relname",
            [table],
        )
        return [
            _Index(name, tuple(columns), enforces, predicate, "_pattern_ops" in definition, comparable)
            for name, enforces, predicate, definition, comparable, columns in cursor.fetchall()
        ]


def _serves(other: _Index, index: _Index) -> bool:
    """Whether ``other`` answers every query ``index`` answers (a pattern_ops index counts as answered by a plain
    one on its columns: its ``LIKE 'x%'`` is what ``ALLOWED`` must justify)."""
    if other is index or not other.comparable or other.predicate != index.predicate:
        return False
    if other.pattern and not index.pattern:
        return False  # no ranges or order from a pattern_ops index
    if other.columns[: len(index.columns)] != index.columns:
        return False
    if len(other.columns) > len(index.columns):
        return True
    # The same columns: the one that enforces a rule stays, a plain index stays before its pattern_ops twin, and
    # of two alike the first by name.
    return (
        other.enforces
        or (index.pattern and not other.pattern)
        or (other.pattern == index.pattern and other.name < index.name)
    )


def redundant(table: str) -> dict[str, str]:
    """The indexes of ``table`` that another index serves: name -> the index that serves it."""
    indexes = _indexes(table)
    found = {}
    for index in indexes:
        if index.enforces or not index.comparable or (table, index.name) in ALLOWED:
            continue
        for other in indexes:
            if _serves(other, index):
                found[index.name] = other.name
                break
    return found


@pytest.mark.parametrize("table", LARGE_TABLES)
def test_no_index_of_a_large_table_is_served_by_another(table):
    assert _indexes(table), f"{table} has no index: is the name right?"
    assert redundant(table) == {}


def test_the_allowed_indexes_exist():
    for table, name in ALLOWED:
        assert name in {index.name for index in _indexes(table)}, (table, name)
