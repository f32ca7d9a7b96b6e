"""Which pages may open the feed: no Origin (a program), the hub's own, or an allowed one."""

from __future__ import annotations

from xiaozhi_server.realtime.origins import origin_allowed

HOSTS = ["hub.example.com:8004", ""]


def test_a_program_that_sends_no_origin_is_allowed() -> None:
    assert origin_allowed(None, HOSTS, [])


def test_the_hubs_own_page_is_allowed_in_any_case() -> None:
    assert origin_allowed("http://HUB.example.com:8004", HOSTS, [])


def test_another_site_is_refused() -> None:
    assert not origin_allowed("https://evil.example", HOSTS, [])


def test_the_same_host_on_another_port_is_another_origin() -> None:
    assert not origin_allowed("http://hub.example.com:9999", HOSTS, [])


def test_an_origin_on_the_allow_list_is_allowed() -> None:
    assert origin_allowed("https://wall.example.org", HOSTS, ["https://wall.example.org/"])


def test_a_null_origin_is_refused() -> None:
    assert not origin_allowed("null", HOSTS, [])


def test_the_forwarded_host_counts_as_the_hubs_own() -> None:
    assert origin_allowed("https://public.example", ["127.0.0.1:8004", "public.example"], [])
