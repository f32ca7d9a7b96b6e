"""Search terms that make Chinese searchable without word boundaries.

Runs of CJK characters become overlapping bigrams ("今天天气" → 今天 天天 天气); other text
becomes words. SQLite's FTS5 indexes these terms, and a query is cut the same way and
searched as a phrase, so any substring of two or more CJK characters (or any whole
word) is found through the index.
"""

from __future__ import annotations

import re

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
_RUNS = re.compile(rf"[{_CJK}]+|[^\W{_CJK}]+")
_IS_CJK = re.compile(rf"[{_CJK}]")
# the same runs, CJK in the first group: one pass, no second match per run
_TOKENS = re.compile(rf"([{_CJK}]+)|([^\W{_CJK}]+)")


def index_terms(text: str) -> str:
    """The space-separated terms under which ``text`` is indexed."""
    return " ".join(_terms(text))


def query_phrase(query: str) -> str | None:
    """An FTS5 MATCH expression for ``query``, or None if the index cannot answer it
    (a single CJK character, or nothing searchable)."""
    parts = []
    for run in _RUNS.findall(query):
        if _IS_CJK.match(run) and len(run) < 2:
            return None
        parts.append('"' + " ".join(_terms(run)).replace('"', "") + '"')
    return " ".join(parts) if parts else None


def _terms(text: str) -> list[str]:
    # Hot: every stored message goes through here (a first copy: a million times).
    terms: list[str] = []
    for cjk, word in _TOKENS.findall(text):
        if not cjk:
            terms.append(word.lower())
        elif len(cjk) < 3:
            terms.append(cjk)
        else:
            terms.extend([cjk[i : i + 2] for i in range(len(cjk) - 1)])
    return terms
