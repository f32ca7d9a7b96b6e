"""The terms of the FTS5 index that migrations 0002 to 0011 kept on SQLite (frozen here).

Migration 0002 builds that index and 0013's downgrade rebuilds it, so both need the term
function exactly as it was, whatever ``store/search_terms.py`` says today. Runs of CJK
characters became overlapping bigrams, other text lower-cased words.
"""

from __future__ import annotations

import re

from sqlalchemy import Connection, text

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
_RUNS = re.compile(rf"[{_CJK}]+|[^\W{_CJK}]+")
_IS_CJK = re.compile(rf"[{_CJK}]")


def index_terms(content: str) -> str:
    """The space-separated terms under which ``content`` was indexed."""
    terms: list[str] = []
    for run in _RUNS.findall(content):
        if _IS_CJK.match(run):
            terms.extend(run[i : i + 2] for i in range(max(1, len(run) - 1)))
        else:
            terms.append(run.lower())
    return " ".join(terms)


def create_index(bind: Connection) -> None:
    """Create the FTS5 table and index every stored message, 5,000 at a time."""
    bind.execute(text("CREATE VIRTUAL TABLE message_terms USING fts5(terms, tokenize='unicode61')"))
    last = 0
    while True:
        rows = bind.execute(
            text("SELECT id, content FROM messages WHERE id > :last ORDER BY id LIMIT 5000"),
            {"last": last},
        ).all()
        if not rows:
            return
        bind.execute(
            text("INSERT INTO message_terms (rowid, terms) VALUES (:id, :terms)"),
            [{"id": row.id, "terms": index_terms(row.content)} for row in rows],
        )
        last = rows[-1].id
