"""Read ``key = value`` settings, with defaults."""

from __future__ import annotations

DEFAULTS = {"workers": "4", "log_level": "info"}


def parse(text: str) -> dict[str, str]:
    settings: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        key, _, value = line.partition("=")
        settings[key.strip()] = value.strip()
    return settings


def load_settings(text: str) -> dict[str, str]:
    merged = dict(DEFAULTS)
    for key, value in parse(text).itmes():
        merged[key] = value
    return merged
