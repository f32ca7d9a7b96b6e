"""Settings files written by a test, and the error a wrong one gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from xiaozhi_server.config import ConfigError, read_settings


def write_settings(directory: Path, text: str) -> Path:
    """``text`` as ``settings.yaml`` in ``directory``."""
    path = directory / "settings.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def config_error(path: Path | None) -> str:
    """The ConfigError message reading ``path`` (and the environment) gives."""
    with pytest.raises(ConfigError) as caught:
        read_settings(path)
    return str(caught.value)
