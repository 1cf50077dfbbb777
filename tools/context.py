"""Settings for the command-line tools: cdk.json's context, then your own settings file, then the same
``-c key=value`` overrides cdk takes.

Your own settings (e-mails, stage, region, instance types ...) live in ``lab.settings.json`` at the top of the
checkout (git-ignored; ``LAB_SETTINGS_FILE`` names another file, which the tests use). ``make configure`` and
``make deploy`` write the ``CONTEXT`` they are given into it (a key given an empty value, ``-c key=``, is removed);
every command (synth, diff, deploy, destroy, audit, preflight, smoke, outputs ...) reads it, with its own
``CONTEXT`` on top for that run. The CDK app never reads the file: the tools pass its keys to cdk as ``-c``
context, which stacks/settings.py reads like any other.
"""

from __future__ import annotations

import json
import os
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


def settings_file() -> Path:
    return Path(os.environ.get("LAB_SETTINGS_FILE") or ROOT / "lab.settings.json")


def saved_context() -> dict[str, str]:
    """Your own settings ({} without the file); UserError naming the file when it is not what it should be."""
    path = settings_file()
    if not path.exists():
        return {}
    try:
        context = json.loads(path.read_text())["context"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UserError(
            f"{path} is not a settings file ({error}): fix it or delete it and run make configure"
        ) from None
    if not isinstance(context, dict) or not all(isinstance(value, str) for value in context.values()):
        raise UserError(f"{path}: 'context' must map each key to a string: fix it or delete it and run make configure")
    return context


def user_context(overrides: dict[str, Any]) -> dict[str, str]:
    """Your settings with this run's overrides on top; a key given an empty value is left out."""
    merged = {**saved_context(), **overrides}
    return {key: value for key, value in merged.items() if value != ""}


def save_context(overrides: dict[str, Any]) -> dict[str, str]:
    """Writes your settings with the overrides on top, once the result is valid settings (else SettingsError and the
    file is left as it was); returns them."""
    context = user_context(overrides)
    settings_of(context)
    path = settings_file()
    if context != saved_context() or not path.exists():
        scratch = path.with_name(f".{path.name}.tmp")
        scratch.write_text(json.dumps({"context": dict(sorted(context.items()))}, indent=2) + "\n")
        scratch.replace(path)
    return context


def context_arguments(context: dict[str, str]) -> list[str]:
    """``-c key=value`` for each key, as cdk takes them."""
    return [argument for key, value in context.items() for argument in ("-c", f"{key}={value}")]


def settings_of(context: dict[str, str]) -> Settings:
    """The settings `cdk synth` builds from cdk.json's context and exactly this context (SettingsError, a
    ValueError, when invalid)."""
    full = {**json.loads((ROOT / "cdk.json").read_text())["context"], **context}
    return Settings.from_context(full.get)


def settings_from(overrides: dict[str, Any]) -> Settings:
    """The settings `cdk synth` would build with these overrides on top of your settings file."""
    return settings_of(user_context(overrides))


def main(argv: list[str] | None = None) -> int:
    """``python -m tools.context --cdk-arguments``: your settings as cdk's ``-c`` arguments, one a line (./cdk)."""
    import argparse

    from tools.aws_errors import guarded

    parser = argparse.ArgumentParser(prog="python -m tools.context", description=main.__doc__)
    parser.add_argument("--cdk-arguments", action="store_true", required=True)
    parser.parse_args(argv)

    def body() -> None:
        context = user_context({})
        settings_of(context)
        for argument in context_arguments(context):
            print(argument)

    return guarded("settings", body)


if __name__ == "__main__":
    raise SystemExit(main())
