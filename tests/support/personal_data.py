"""A conversation full of personal numbers and addresses, and look-alikes, for masking."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.support.seed import LIVING_ROOM
from xiaozhi_server.domain import Batch, MessageRecord, TitleRecord
from xiaozhi_server.ingest.pipeline import Ingestor
from xiaozhi_server.realtime.bus import EventBus
from xiaozhi_server.store.database import Store

SESSION = "s-personal"
PHONE, PHONE_SHOWN = "13812345678", "138****5678"
EMAIL, EMAIL_SHOWN = "zhang.san@example.com", "z********@example.com"
ID_CARD, ID_CARD_SHOWN = "11010519491231002X", "110***********002X"
CARD, CARD_SHOWN = "6222021234567894", "6222********7894"
ORDER = "202311281234567890"  # an order number: looks like an ID, is not one
TITLE, TITLE_SHOWN = f"给妈妈 {PHONE} 打电话", f"给妈妈 {PHONE_SHOWN} 打电话"
SAID = f"我的手机号是{PHONE}，邮箱 {EMAIL}"
SAID_SHOWN = f"我的手机号是{PHONE_SHOWN}，邮箱 {EMAIL_SHOWN}"
ANSWER = f"好的，已记下身份证{ID_CARD}和卡号{CARD}。"
ANSWER_SHOWN = f"好的，已记下身份证{ID_CARD_SHOWN}和卡号{CARD_SHOWN}。"
TOOL_CALL = json.dumps([{"type": "tool", "text": f'call_phone({{"number": {PHONE}}})'}])
ASKED = f"订单号{ORDER}什么时候到？"
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def _turn(kind: int, text: str, seconds: int) -> MessageRecord:
    at = T0 + timedelta(seconds=seconds)
    return MessageRecord(LIVING_ROOM, SESSION, kind, text, at, "test", agent_id="agent-zh")


async def add_personal_conversation(url: str) -> None:
    """Write the conversation through ingest into the (migrated) store at ``url``."""
    store = Store(url)
    batch = Batch(
        messages=[
            _turn(1, SAID, 0),
            _turn(2, ANSWER, 1),
            _turn(3, TOOL_CALL, 2),
            _turn(1, ASKED, 3),
        ],
        titles=[TitleRecord(SESSION, TITLE)],
    )
    await Ingestor(store, EventBus()).ingest(batch)
    await store.close()


async def add_messages(url: str, texts: list[str]) -> None:
    """One user turn per text in session s-many, the first text the oldest."""
    store = Store(url)
    turns = [
        MessageRecord(LIVING_ROOM, "s-many", 1, text, T0 + timedelta(minutes=n), "test")
        for n, text in enumerate(texts)
    ]
    await Ingestor(store, EventBus()).ingest(Batch(messages=turns))
    await store.close()
