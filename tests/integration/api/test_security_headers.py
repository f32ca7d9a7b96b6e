"""Every answer tells the browser not to guess types; the console may talk only to its host."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.live_app import LiveApp, serving
from xiaozhi_server.config import Settings


@pytest.fixture
def app(tmp_path: object) -> Iterator[LiveApp]:
    settings = Settings.model_validate(
        {
            "storage": {"url": f"sqlite+aiosqlite:///{tmp_path}/headers.db"},
            "auth": {"api_tokens": ["test-token"], "admin_password": "pw"},
        }
    )
    with serving(settings) as live:
        yield live


@pytest.mark.parametrize(
    "path",
    ["/healthz", "/", "/console/app.js", "/api/v2/devices", "/no-such-page", "/metrics"],
)
def test_every_answer_says_nosniff(app: LiveApp, path: str) -> None:
    response = httpx.get(app.base_url + path)
    assert response.headers["x-content-type-options"] == "nosniff"


def test_the_console_may_open_sockets_only_to_its_own_host(app: LiveApp) -> None:
    policy = httpx.get(app.base_url + "/").headers["content-security-policy"]
    connect = next(d for d in policy.split(";") if d.strip().startswith("connect-src"))
    host = app.base_url.removeprefix("http://")
    assert connect.split() == ["connect-src", "'self'", f"ws://{host}", f"wss://{host}"]


def test_a_host_header_that_is_not_a_host_does_not_reach_the_policy(app: LiveApp) -> None:
    response = httpx.get(app.base_url + "/", headers={"Host": "x; script-src *"})
    policy = response.headers["content-security-policy"]
    assert "script-src" not in policy
    assert "connect-src 'self';" in policy
