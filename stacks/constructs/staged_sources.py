"""Source folders copied into the cloud assembly before they become assets.

An asset made from the copy hashes only the files' content and relative paths (no bytecode, nothing a
test run left behind), and no bundling step runs or prints anything during synth.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from aws_cdk import Stage
from constructs import Construct


def staged_copy(scope: Construct, staging: str, source: Path, *, inside: str = "") -> Path:
    """``<cloud assembly>/<staging>``, fresh, holding a copy of ``source`` without bytecode, at ``inside``
    below it when given (``inside="als"``: the folder holds ``als/``). Returns the staging folder."""
    folder = Path(Stage.of(scope).outdir) / staging  # type: ignore[union-attr]
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(source, folder / inside, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return folder
