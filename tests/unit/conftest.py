"""Fixtures shared by the unit tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ``XIAOZHI_…`` variable and an empty working directory: settings come from the test."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("XIAOZHI_"):
            monkeypatch.delenv(name)
