"""The speaker of a user turn in its own column; stored voiceprint turns become plain text.

With voiceprint recognition on, the core reports a user turn as ``{"speaker": …,
"content": …}``. Rows stored that way are split: the name goes to ``speaker``, the text to
``content`` (and, on SQLite, into the search index). Their natural keys stay as they are:
the key hashes the content as reported, so the same turn arriving again is still a duplicate.

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None

_PAGE = 1000
_CANDIDATES = sa.text(
    "SELECT id, content FROM messages WHERE id > :last AND chat_type = 1 "
    "AND content LIKE :pattern ORDER BY id LIMIT :page"
)
_SPOKEN = sa.text(
    "SELECT id, speaker, content FROM messages WHERE id > :last AND speaker IS NOT NULL "
    "ORDER BY id LIMIT :page"
)
_SET = sa.text("UPDATE messages SET speaker = :speaker, content = :content WHERE id = :id")
_SET_CONTENT = sa.text("UPDATE messages SET content = :content WHERE id = :id")


def upgrade() -> None:
    """Add messages.speaker and split the voiceprint turns already stored."""
    from xiaozhi_server.ingest.normalise import separate_speaker

    op.add_column("messages", sa.Column("speaker", sa.String(128), nullable=True))

    def split(rows: Sequence[Any]) -> list[dict[str, Any]]:
        changes = []
        for row in rows:
            separated = separate_speaker(row.content)
            if separated is not None:
                changes.append({"id": row.id, "speaker": separated[0], "content": separated[1]})
        return changes

    _rewrite(_CANDIDATES.bindparams(pattern='%"speaker"%'), split, _SET)


def downgrade() -> None:
    """Put each named speaker back into its turn's content (the core's JSON form), then drop
    the column. A voiceprint turn whose name was blank keeps its plain text."""
    from xiaozhi_server.ingest.speaker import join_speaker

    def join(rows: Sequence[Any]) -> list[dict[str, Any]]:
        return [{"id": row.id, "content": join_speaker(row.speaker, row.content)} for row in rows]

    _rewrite(_SPOKEN, join, _SET_CONTENT)
    with op.batch_alter_table("messages") as table:
        table.drop_column("speaker")


def _rewrite(
    query: sa.TextClause,
    change: Callable[[Sequence[Any]], list[dict[str, Any]]],
    statement: sa.TextClause,
) -> None:
    """Page through ``query`` by id, writing ``change(rows)`` with ``statement`` (and into
    SQLite's search index)."""
    bind = op.get_bind()
    last = 0
    while rows := bind.execute(query, {"last": last, "page": _PAGE}).all():
        changes = change(rows)
        if changes:
            bind.execute(statement, changes)
            _reindex(bind, changes)
        last = rows[-1].id


def _reindex(bind: sa.Connection, changes: list[dict[str, Any]]) -> None:
    if bind.dialect.name != "sqlite":
        return
    from xiaozhi_server.store.migrations.fts5_terms import index_terms

    ids = [{"id": change["id"]} for change in changes]
    bind.execute(sa.text("DELETE FROM message_terms WHERE rowid = :id"), ids)
    bind.execute(
        sa.text("INSERT INTO message_terms (rowid, terms) VALUES (:id, :terms)"),
        [{"id": change["id"], "terms": index_terms(change["content"])} for change in changes],
    )
