"""Roles in the console: a viewer is offered no export, users or audit; an admin manages
users and reads the audit trail; with masking on, an admin may show text unmasked."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import open_page, sign_in
from tests.support.live_app import LiveApp, serving
from tests.support.personal_data import PHONE, PHONE_SHOWN, SESSION, add_personal_conversation
from tests.support.seed import LIVING_ROOM, seed
from xiaozhi_server.config import Settings

ADMIN_TOKEN = {"Authorization": "Bearer t"}


def add_user(console: LiveApp, role: str) -> tuple[str, str]:
    """A new user of ``role`` (added by the admin's API token); its name and password."""
    name, password = f"{role}-{uuid.uuid4().hex[:6]}", "e2e-password"
    answer = httpx.post(
        f"{console.base_url}/api/v2/users",
        json={"username": name, "role": role, "password": password},
        headers=ADMIN_TOKEN,
    )
    assert answer.status_code == 201, answer.text
    return name, password


def signed_in_as(browser: Browser, app: LiveApp, name: str, password: str) -> Page:
    page = open_page(browser, app)
    page.fill("#username", name)
    page.fill("#password", password)
    page.click("form.login button[type=submit]")
    page.wait_for_selector("table.devices")
    return page


def go(page: Page, route: str) -> None:
    page.goto(page.url.split("#")[0] + route)


@pytest.fixture
def viewer_page(browser: Browser, console: LiveApp) -> Iterator[Page]:
    page = signed_in_as(browser, console, *add_user(console, "viewer"))
    yield page
    page.context.close()


def test_a_viewer_is_offered_no_export_users_or_audit(viewer_page: Page) -> None:
    expect(viewer_page.locator("nav a[href='#/devices']")).to_be_visible()
    expect(viewer_page.locator("nav a[href='#/users']")).to_be_hidden()
    expect(viewer_page.locator("nav a[href='#/audit']")).to_be_hidden()
    go(viewer_page, f"#/device/{LIVING_ROOM}")
    expect(viewer_page.locator("h2")).to_have_text("会话")
    expect(viewer_page.locator(".export")).to_have_count(0)
    go(viewer_page, "#/session/s-weather")
    expect(viewer_page.locator(".bubble").first).to_be_visible()
    expect(viewer_page.locator(".export")).to_have_count(0)


def test_a_viewer_who_types_the_users_address_is_told_no(viewer_page: Page) -> None:
    go(viewer_page, "#/users")
    expect(viewer_page.locator("main")).to_contain_text("forbidden")
    expect(viewer_page.locator("table.users")).to_have_count(0)


def test_an_admin_adds_a_user_changes_the_role_and_removes_the_user(page: Page) -> None:
    go(page, "#/users")
    expect(page.locator("tr[data-username='admin']")).to_be_visible()
    page.fill("input[name=new-username]", "e2e-teacher")
    page.select_option("select[name=new-role]", "viewer")
    page.fill("input[name=new-password]", "teacher-password")
    page.click("form.add-user button[type=submit]")
    row = page.locator("tr[data-username='e2e-teacher']")
    expect(row.locator("select")).to_have_value("viewer")
    row.locator("select").select_option("admin")
    expect(page.locator(".notice")).to_have_text("e2e-teacher: 管理员")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("tr[data-username='e2e-teacher'] button.remove").click()
    expect(page.locator("tr[data-username='e2e-teacher']")).to_have_count(0)


def test_the_last_admin_cannot_be_made_a_viewer_and_the_console_says_why(page: Page) -> None:
    go(page, "#/users")
    page.locator("tr[data-username='admin'] select").select_option("viewer")
    expect(page.locator("main .error")).to_contain_text("last admin")
    expect(page.locator("tr[data-username='admin'] select")).to_have_value("admin")


def test_the_audit_trail_lists_sign_ins_and_user_changes_newest_first(
    page: Page, console: LiveApp
) -> None:
    name, _ = add_user(console, "viewer")
    go(page, "#/audit")
    expect(page.locator("table.audit tr[data-action='sign_in']").first).to_contain_text("admin")
    expect(page.locator("table.audit tbody tr").first).to_contain_text(f"user {name}")
    page.select_option("select[name=action]", "user_add")
    expect(page.locator("table.audit tbody tr[data-action='sign_in']")).to_have_count(0)
    expect(page.locator("table.audit tbody tr").first).to_contain_text("添加用户")


@pytest.fixture(scope="module")
def masked_console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('masked') / 'store.db'}"
    with ThreadPoolExecutor(1) as worker:  # Playwright's loop owns this thread
        worker.submit(asyncio.run, seed(url)).result()
        worker.submit(asyncio.run, add_personal_conversation(url)).result()
    settings = Settings.model_validate(
        {
            "storage": {"url": url},
            "auth": {"admin_password": "console-pw"},
            "privacy": {"mask": ["phone", "email"]},
        }
    )
    with serving(settings) as app:
        yield app


def test_with_masking_an_admin_sees_numbers_masked_until_asking_for_them(
    browser: Browser, masked_console: LiveApp
) -> None:
    page = open_page(browser, masked_console)
    sign_in(page)
    go(page, f"#/session/{SESSION}")
    first = page.locator(".bubble .text").first
    expect(first).to_contain_text(PHONE_SHOWN)
    page.check("#unmask")
    expect(page.locator(".bubble .text").first).to_contain_text(PHONE)
    page.uncheck("#unmask")
    expect(page.locator(".bubble .text").first).to_contain_text(PHONE_SHOWN)
    page.context.close()
