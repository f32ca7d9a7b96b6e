"""The search grams: the index never misses a message that contains the query."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from xiaozhi_server.store.search_terms import contains, fold, grams

# Chinese, kana, Hangul, ASCII in both cases, digits, accents, punctuation, spaces, emoji
TEXT = st.text(alphabet="今天天气好的灯かな한글abcABCxyzXYZ019éÉßİ_%，。! 😀", max_size=40)


@given(TEXT, st.data())
def test_every_substring_needs_only_grams_its_text_has(text: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    query = "".join(
        c.upper() if data.draw(st.booleans()) and c.isascii() else c for c in text[start:end]
    )
    assert contains(text, query)
    assert set(grams(query)) <= set(grams(text))


@given(TEXT)
def test_folding_lowers_ascii_letters_only_and_keeps_every_position(text: str) -> None:
    folded = fold(text)
    assert len(folded) == len(text)
    assert all(
        f == (c.lower() if "A" <= c <= "Z" else c) for c, f in zip(text, folded, strict=True)
    )


def test_chinese_is_indexed_by_bigrams_and_other_words_by_trigrams() -> None:
    assert grams("今天天气") == grams("今天") + grams("天天") + grams("天气")
    assert grams("Hello") == grams("hel") + grams("ell") + grams("llo")


def test_one_chinese_character_or_two_letters_give_the_index_nothing_to_look_up() -> None:
    assert grams("我") == []
    assert grams("ok") == []
    assert grams("我 ok ，") == []


def test_grams_are_distinct() -> None:
    assert len(grams("哈哈哈哈哈")) == 1


def test_only_ascii_letters_match_in_either_case() -> None:
    assert contains("Hello World", "hELLO w")
    assert not contains("Café", "CAFÉ")
    assert not contains("cafe", "café")
