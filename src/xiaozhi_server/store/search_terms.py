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

A gram is a 32-bit hash, the same on every store (an integer, or on SQLite's FTS5 a word
made of it): no collation can fold two grams together or split one.
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
    crc = zlib.crc32  # of the gram's UTF-8, sliced from the run's: this runs per message
    for run in _RUNS.findall(fold(text)):
        if _IS_CJK.match(run):
            data = run.encode("utf-8")  # every character in _CJK is 3 bytes in UTF-8
            for at in range(0, len(data) - 5, 3):
                found[crc(data[at : at + 6])] = None
        elif run.isascii():
            data = run.encode("ascii")
            for at in range(len(data) - 2):
                found[crc(data[at : at + 3])] = None
        else:
            for at in range(len(run) - 2):
                found[crc(run[at : at + 3].encode("utf-8"))] = None
    # as a signed 32-bit integer (an INTEGER column on every store); collisions only add
    # candidates, which the exact check drops
    return [value - (1 << 32) if value >= 1 << 31 else value for value in found]


def fts_words(text: str) -> str:
    """What SQLite's FTS5 index holds for a message with this text."""
    return tokens(grams(text))


def tokens(hashes: list[int]) -> str:
    """The grams as words for SQLite's FTS5 (``g`` and the hash in hex: plain ASCII, which
    no tokenizer splits or folds)."""
    return " ".join(f"g{value & 0xFFFFFFFF:x}" for value in hashes)
