"""The grams under which a message is indexed, and what "contains" means for search.

Text is cut into runs: runs of CJK characters (Chinese has no spaces between words) and
runs of other word characters (letters, digits). A CJK run is indexed by its overlapping
bigrams ("今天天气" → 今天 天天 天气), any other run by its overlapping trigrams of the
ASCII-folded text ("Hello" → hel ell llo). A query is cut by the very same function.

Why that finds every hit: if a query is a substring of a message (after folding), each of
the query's runs lies inside one of the message's runs, and the grams of a substring are
grams of the string. So a message that contains the query has every gram of the query;
the index never misses. It may over-find (grams present but not adjacent, or two grams
with one hash): the exact check ``contains`` decides.

A gram is stored as a 32-bit hash, the same integer on every store: no collation can fold
two grams together or split one, and an index entry is two integers.
"""

from __future__ import annotations

import re
import zlib

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
_RUNS = re.compile(rf"[{_CJK}]+|[^\W{_CJK}]+")
_IS_CJK = re.compile(rf"[{_CJK}]")
# Only ASCII letters fold: every store's LIKE agrees on those, and the text keeps its
# length, so hit positions in the folded text are positions in the original.
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold(text: str) -> str:
    """``text`` with ASCII letters lower-cased, nothing else changed (same length)."""
    return text.translate(_ASCII_LOWER)


def contains(content: str, query: str) -> bool:
    """Whether ``content`` holds ``query``, ignoring the case of ASCII letters: the one
    definition of a search hit, whichever store found the candidates."""
    return fold(query) in fold(content)


def grams(text: str) -> list[int]:
    """The distinct gram hashes of ``text``, in order of first appearance: what a message
    is indexed under, and what a query needs (empty: the index cannot answer it, as for a
    single Chinese character or a two-letter word)."""
    found: dict[int, None] = {}
    for run in _RUNS.findall(fold(text)):
        size = 2 if _IS_CJK.match(run) else 3
        for start in range(len(run) - size + 1):
            found.setdefault(_hash(run[start : start + size]), None)
    return list(found)


def _hash(gram: str) -> int:
    # CRC-32 as a signed 32-bit integer (an INTEGER column on every store); collisions
    # only add candidates, which the exact check drops.
    value = zlib.crc32(gram.encode("utf-8"))
    return value - (1 << 32) if value >= 1 << 31 else value
