"""Assertions about HTTP answers that many API tests share."""

from __future__ import annotations

import httpx


def assert_bad_parameter(response: httpx.Response, parameter: str) -> None:
    """A 400 in the API's error shape that names ``parameter``."""
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "bad_parameter"
    assert error["parameter"] == parameter
    assert error["message"].startswith(parameter)
