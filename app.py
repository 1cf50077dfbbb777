#!/usr/bin/env python3
"""CDK entry point: read settings from context, compose the stacks, synthesise."""

from __future__ import annotations

import sys

from aws_cdk import App

from stacks.app_builder import build_app
from stacks.settings import Settings, SettingsError


def main() -> int:
    app = App()
    try:
        settings = Settings.from_node(app.node)
        build_app(app, settings)
    except SettingsError as error:
        print(f"Invalid setting: {error}", file=sys.stderr)
        return 2
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
