"""10,000 devices in real Chromium, in Chinese and English: the device list pages, sorts
and searches (alias, MAC, agent name) on the server; a device's sessions page on; agents
by name; the busiest devices by alias."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.screenshots import shoot
from tests.support.core_client import SECRET
from tests.support.live_app import LiveApp, serving
from tests.support.seed import LIVING_ROOM, seed
from xiaozhi_server.config import Settings
from xiaozhi_server.domain import AgentRecord, Batch, DeviceRecord, MessageRecord
from xiaozhi_server.ingest.pipeline import Ingestor
from xiaozhi_server.realtime.bus import EventBus
from xiaozhi_server.store.database import Store

DEVICES = 10_000
TOTAL = DEVICES + 2  # and the two of the usual data set
CHATTY = "cc:00:00:00:00:07"  # mac(7): 60 sessions, more than a page
START = datetime(2026, 11, 25, tzinfo=UTC)
AGENTS = [AgentRecord("agent-farm", "农场助手"), AgentRecord("agent-shop", "Shop Helper")]
TEXT = {
    "zh": {"range": "第 {0:,}–{1:,} 个，共 {2:,} 个", "more": "更多会话"},
    "en": {"range": "{0:,}–{1:,} of {2:,}", "more": "More sessions"},
}


def mac(n: int) -> str:
    return "cc:00:" + ":".join(f"{n:08x}"[i : i + 2] for i in range(0, 8, 2))


def many_devices() -> Batch:
    """10,000 devices named 设备 00000… with two agents, seen a minute apart; one with 60
    sessions."""
    devices = [
        DeviceRecord(
            mac(n),
            alias=f"设备 {n:05d}",
            agent_id=AGENTS[n % 2].agent_id,
            last_connected_at=START + timedelta(minutes=n),
        )
        for n in range(DEVICES)
    ]
    turns = [
        MessageRecord(CHATTY, f"chatty-{n:02d}", 1, f"第{n}次", START + timedelta(hours=n), "test")
        for n in range(60)
    ]
    return Batch(agents=AGENTS, devices=devices, messages=turns)


async def seed_many(url: str) -> None:
    await seed(url)
    store = Store(url)
    await Ingestor(store, EventBus()).ingest(many_devices())
    await store.close()


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('scale') / 'store.db'}"
    with ThreadPoolExecutor(1) as worker:  # Playwright's loop owns this thread
        worker.submit(asyncio.run, seed_many(url)).result()
    settings = Settings.model_validate(
        {
            "storage": {"url": url},
            "auth": {"admin_password": "console-pw", "report_secret": SECRET, "api_tokens": ["t"]},
        }
    )
    with serving(settings) as app:
        yield app


def words(page: Page, key: str, *values: object) -> str:
    return TEXT[page.lang][key].format(*values)  # type: ignore[attr-defined]


def rows(page: Page) -> list[str]:
    macs = page.locator("table.devices tbody tr").evaluate_all(
        "(rows) => rows.map((row) => row.dataset.mac)"
    )
    return [str(mac) for mac in macs]


def test_the_device_list_pages_through_ten_thousand_devices(lang_page: Page) -> None:
    expect(lang_page.locator(".pager .range")).to_have_text(words(lang_page, "range", 1, 50, TOTAL))
    expect(lang_page.locator("table.devices tbody tr")).to_have_count(50)
    first_page = rows(lang_page)
    assert first_page[0] == mac(DEVICES - 1)  # seen last, listed first
    shoot(lang_page, "devices")
    lang_page.click(".pager button.next")
    expect(lang_page.locator(".pager .range")).to_have_text(
        words(lang_page, "range", 51, 100, TOTAL)
    )
    assert rows(lang_page)[0] == mac(DEVICES - 51)
    assert lang_page.url.endswith("#/devices/page=1")


def test_the_last_page_has_the_rest_and_no_next(lang_page: Page) -> None:
    lang_page.goto(lang_page.url.split("#")[0] + f"#/devices/page={TOTAL // 50}")
    expect(lang_page.locator(".pager .range")).to_have_text(
        words(lang_page, "range", TOTAL // 50 * 50 + 1, TOTAL, TOTAL)
    )
    expect(lang_page.locator(".pager button.next")).to_be_disabled()


@pytest.mark.parametrize(
    ("query", "found"),
    [("设备 04321", [mac(4321)]), (mac(4321).upper(), [mac(4321)]), ("客厅", [LIVING_ROOM])],
)
def test_a_search_finds_a_device_by_alias_or_mac_among_ten_thousand(
    lang_page: Page, query: str, found: list[str]
) -> None:
    lang_page.fill(".device-search input[name=q]", query)
    lang_page.press(".device-search input[name=q]", "Enter")
    expect(lang_page.locator("table.devices tbody tr")).to_have_count(len(found))
    assert rows(lang_page) == found


def test_a_search_by_agent_name_finds_its_devices(lang_page: Page) -> None:
    lang_page.fill(".device-search input[name=q]", "shop helper")
    lang_page.press(".device-search input[name=q]", "Enter")
    expect(lang_page.locator(".pager .range")).to_have_text(
        words(lang_page, "range", 1, 50, DEVICES // 2)
    )
    expect(lang_page.locator("table.devices tbody tr").first).to_contain_text("Shop Helper")


def test_sorting_by_alias_goes_a_to_z_then_z_to_a(lang_page: Page) -> None:
    lang_page.click("th button.sort[data-sort=alias]")
    expect(lang_page.locator("th[aria-sort=ascending]")).to_have_count(1)
    expect(lang_page.locator("table.devices tbody tr").first).to_have_attribute(
        "data-mac",
        "aa:bb:cc:00:00:02",  # "Kids Room" before 设备 and 客厅
    )
    lang_page.click("th button.sort[data-sort=alias]")
    expect(lang_page.locator("th[aria-sort=descending]")).to_have_count(1)
    expect(lang_page.locator("table.devices tbody tr").first).to_have_attribute(
        "data-mac",
        mac(DEVICES - 1),  # 设备 09999: 设 comes after 客 and K
    )


def test_devices_show_their_agents_name_not_its_id(lang_page: Page) -> None:
    expect(lang_page.locator(f"tr[data-mac='{mac(DEVICES - 1)}']")).to_contain_text("Shop Helper")
    expect(lang_page.locator("table.devices")).not_to_contain_text("agent-shop")


def test_a_devices_sessions_page_on_past_the_first_fifty(lang_page: Page) -> None:
    lang_page.goto(lang_page.url.split("#")[0] + f"#/device/{CHATTY}")
    sessions = lang_page.locator("a[href^='#/session/chatty-']")
    expect(sessions).to_have_count(50)
    lang_page.get_by_role("button", name=words(lang_page, "more")).click()
    expect(sessions).to_have_count(60)
    expect(lang_page.locator("button.more")).to_be_hidden()


def test_the_busiest_devices_are_labelled_by_alias(lang_page: Page) -> None:
    lang_page.goto(lang_page.url.split("#")[0] + "#/stats")
    busiest = lang_page.locator("section").nth(2).locator("svg.chart text.label")
    expect(busiest.first).to_have_text("设备 00007")  # CHATTY, 60 turns in the range
    expect(busiest.nth(1)).to_have_text("客厅小智")
    shoot(lang_page, "stats", full_page=True)
