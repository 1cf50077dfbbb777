"""Both network modes of the app at its default settings, synthesised in-process for README's generated parts.

README's cost table (``tools/audit/cost_readme.py``) and its diagrams (``tools/audit/diagram.py``) are made from
these: cdk.json's context with ``network_mode`` set, an isolated mode's wheelhouse a placeholder (the wheels change
neither a cost nor a diagram), and no cdk-nag (its findings change neither either).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from stacks.settings import Settings
from tools.audit.assembly import CloudAssembly, load_assembly
from tools.context import ROOT

MODES = ("public", "isolated")


@contextmanager
def synthesised_modes() -> Iterator[dict[str, tuple[CloudAssembly, Settings]]]:
    """Mode -> (its cloud assembly, its settings); the assemblies live until the block ends."""
    from aws_cdk import App

    from stacks.app_builder import build_app
    from tools import wheelhouse

    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    with tempfile.TemporaryDirectory(prefix="readme-modes-") as scratch:
        found = {}
        for mode in MODES:
            full = wheelhouse.with_placeholder({**context, "network_mode": mode}, Path(scratch))
            outdir = Path(scratch) / mode
            app = App(context=full, outdir=str(outdir))
            settings = Settings.from_context(app.node.try_get_context)
            build_app(app, settings, nag=False)
            app.synth()
            found[mode] = (load_assembly(outdir), settings)
        yield found
