"""Voiceprint turns: the speaker's name apart, the text as it was said."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from xiaozhi_server.domain import Batch, MessageRecord
from xiaozhi_server.ingest.normalise import normalise_batch
from xiaozhi_server.ingest.speaker import join_speaker

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def normalised(content: str, chat_type: int = 1) -> MessageRecord:
    record = MessageRecord("aa:bb:cc:dd:ee:ff", "s-1", chat_type, content, NOW, "test")
    clean, rejected = normalise_batch(Batch(messages=[record]))
    assert rejected == []
    return clean.messages[0]


def voiceprint(speaker: object, content: object) -> str:
    return json.dumps({"speaker": speaker, "content": content}, ensure_ascii=False)


def test_a_voiceprint_turn_keeps_the_speaker_apart_from_the_plain_text() -> None:
    record = normalised(voiceprint("张三", "今天天气怎么样？"))
    assert (record.speaker, record.content) == ("张三", "今天天气怎么样？")


def test_a_voiceprint_turn_remembers_the_content_as_reported_for_its_key() -> None:
    reported = voiceprint("张三", "你好")
    assert normalised(reported).reported_content == reported


def test_a_plain_turn_has_no_speaker_and_keeps_its_text() -> None:
    record = normalised("你好，小智")
    assert (record.speaker, record.content, record.reported_content) == (None, "你好，小智", None)


@pytest.mark.parametrize(
    "said",
    [
        '{"speaker": "张三", "content": "没有结尾"',
        '{"speaker": "张三", "content": "你好", "mood": "happy"}',
        '{"speaker": 7, "content": "你好"}',
        '{"speaker": "张三", "content": ["你好"]}',
        '[{"speaker": "张三", "content": "你好"}]',
        '{"content": "你好"}',
        '我说 {"speaker": "张三", "content": "你好"}',
    ],
)
def test_json_looking_text_that_is_not_the_voiceprint_form_is_kept_as_said(said: str) -> None:
    record = normalised(said)
    assert (record.speaker, record.content) == (None, said)


def test_only_user_turns_carry_a_speaker() -> None:
    said = voiceprint("张三", "你好")
    record = normalised(said, chat_type=2)
    assert (record.speaker, record.content) == (None, said)


def test_a_blank_speaker_name_is_no_speaker_and_the_text_is_still_plain() -> None:
    record = normalised(voiceprint("  ", "你好"))
    assert (record.speaker, record.content) == (None, "你好")


def test_control_characters_escaped_inside_the_json_are_dropped() -> None:
    record = normalised(voiceprint("张\u0000三", "你\u0007好\n"))
    assert (record.speaker, record.content) == ("张三", "你好\n")


def test_a_speaker_name_longer_than_its_column_leaves_the_content_as_said() -> None:
    said = voiceprint("名" * 129, "你好")
    assert (normalised(said).speaker, normalised(said).content) == (None, said)


def test_joining_a_speaker_gives_back_the_cores_form() -> None:
    assert json.loads(join_speaker("张三", "你好")) == {"speaker": "张三", "content": "你好"}
    assert join_speaker(None, "你好") == "你好"
