"""Settings for the command-line tools: cdk.json's context plus the same ``-c key=value`` overrides cdk takes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stacks.settings import Settings
from tools.aws_errors import UserError

ROOT = Path(__file__).resolve().parents[1]


class ContextError(UserError, ValueError):
    """A ``-c`` item that is not ``key=value``."""


def parse_context(pairs: list[str]) -> dict[str, Any]:
    """``["key=value", ...]`` -> overrides; ContextError (a ValueError) for an item without ``=``."""
    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator:
            raise ContextError(f"-c expects key=value, got {pair!r}: write CONTEXT='-c key=value ...'")
        overrides[key.strip()] = value
    return overrides


def settings_from(overrides: dict[str, Any]) -> Settings:
    """The settings `cdk synth` would build with these overrides (SettingsError, a ValueError, when invalid)."""
    context = {**json.loads((ROOT / "cdk.json").read_text())["context"], **overrides}
    return Settings.from_context(context.get)
