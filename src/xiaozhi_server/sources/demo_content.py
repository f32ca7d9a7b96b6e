"""What the demo's devices and agents say: Chinese and English, with the odd tool call."""

from __future__ import annotations

import json

from xiaozhi_server.domain import AgentRecord, DeviceRecord


def tool_call(name: str, arguments: dict[str, object]) -> str:
    """chatType 3 content for a call, as the core writes it."""
    text = f"{name}({json.dumps(arguments, ensure_ascii=False)})"
    return json.dumps([{"type": "tool", "text": text}], ensure_ascii=False)


def tool_result(result: str) -> str:
    """chatType 3 content for a tool's answer, as the core writes it."""
    payload = json.dumps({"result": result}, ensure_ascii=False)
    return json.dumps([{"type": "tool_result", "text": payload}], ensure_ascii=False)


AGENTS = [
    AgentRecord("a0000000000000000000000000000001", "小智助手", 2),
    AgentRecord("a0000000000000000000000000000002", "English Tutor", 1),
    AgentRecord("a0000000000000000000000000000003", "故事大王", 1),
]

DEVICES = [
    DeviceRecord(
        "a0:85:e3:10:00:01",
        "d0000000000000000000000000000001",
        "客厅小智",
        "bread-compact-wifi",
        "1.7.6",
        AGENTS[0].agent_id,
    ),
    DeviceRecord(
        "a0:85:e3:10:00:02",
        "d0000000000000000000000000000002",
        "Kids Room",
        "esp-box-3",
        "1.7.6",
        AGENTS[1].agent_id,
    ),
    DeviceRecord(
        "a0:85:e3:10:00:03",
        "d0000000000000000000000000000003",
        "书房",
        "lichuang-dev",
        "1.6.2",
        AGENTS[2].agent_id,
    ),
    DeviceRecord(
        "a0:85:e3:10:00:04",
        "d0000000000000000000000000000004",
        "Kitchen",
        "bread-compact-wifi",
        "1.7.6",
        AGENTS[0].agent_id,
    ),
]

# Each conversation: (title, turns); a turn is (chat_type, content).
CONVERSATIONS: list[tuple[str, list[tuple[int, str]]]] = [
    (
        "深圳天气",
        [
            (1, "小智，今天深圳天气怎么样？"),
            (3, tool_call("get_weather", {"city": "深圳"})),
            (3, tool_result("晴，22°C，东南风2级")),
            (2, "今天深圳晴，气温22度，东南风2级，很适合出门散步哦。"),
            (1, "那明天呢？"),
            (2, "明天多云转小雨，记得带伞。"),
        ],
    ),
    (
        "Practising English",
        [
            (1, "Can you help me practise English?"),
            (2, "Of course! Let's start simple: what did you have for breakfast today?"),
            (1, "I eat noodles and a egg."),
            (2, "Nice! We say: 'I ate noodles and an egg.' Past tense, and 'an' before a vowel."),
            (1, "I ate noodles and an egg."),
            (2, "Perfect! 🎉 Now tell me one thing you want to do this weekend."),
        ],
    ),
    (
        "睡前故事",
        [
            (1, "给我讲个睡前故事吧"),
            (2, "从前，在一片大森林里，住着一只爱看星星的小狐狸……"),
            (1, "后来呢？"),
            (2, "后来小狐狸找到了一颗掉在湖里的星星，它把星星送回了天上。晚安！🌙"),
        ],
    ),
    (
        "Kitchen timer",
        [
            (1, "Set a timer for ten minutes."),
            (3, tool_call("set_timer", {"minutes": 10, "label": "pasta"})),
            (3, tool_result("timer set: 10 min (pasta)")),
            (2, "Done — ten minutes for the pasta. I'll tell you when it's ready."),
        ],
    ),
    (
        "播放音乐",
        [
            (1, "播放一首周杰伦的歌"),
            (3, tool_call("play_music", {"song_name": "晴天"})),
            (3, tool_result("正在播放：晴天")),
            (2, "好的，为你播放《晴天》。"),
            (1, "声音大一点"),
            (3, tool_call("self.audio_speaker.set_volume", {"volume": 80})),
            (3, tool_result("true")),
            (2, "音量已调到80。"),
        ],
    ),
    (
        "Math homework",
        [
            (1, "What is seven times eight?"),
            (2, "Seven times eight is fifty-six."),
            (1, "And fifty-six divided by four?"),
            (2, "Fifty-six divided by four is fourteen."),
        ],
    ),
]
