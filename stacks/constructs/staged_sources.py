"""Source folders copied into the cloud assembly before they become assets.

An asset made from the copy hashes only the files' content and relative paths (no bytecode, nothing a
test run left behind), and no bundling step runs or prints anything during synth.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from aws_cdk import Stage
from constructs import Construct

BYTECODE = shutil.ignore_patterns("__pycache__", "*.pyc")


def staging_folder(scope: Construct, staging: str) -> Path:
    """``<cloud assembly>/<staging>`` of the stage ``scope`` is in."""
    return Path(Stage.of(scope).outdir) / staging  # type: ignore[union-attr]


def copy_sources(destination: Path, parts: Mapping[str, Path]) -> Path:
    """``destination``, fresh, holding a copy of each source at its path below it (``""``: the folder itself);
    folders are copied whole, without bytecode. Returns ``destination``."""
    shutil.rmtree(destination, ignore_errors=True)
    for inside, source in parts.items():
        target = destination / inside
        if source.is_dir():
            shutil.copytree(source, target, ignore=BYTECODE, dirs_exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    return destination


def staged_copy(scope: Construct, staging: str, source: Path, *, inside: str = "") -> Path:
    """``<cloud assembly>/<staging>``, fresh, holding a copy of ``source`` without bytecode, at ``inside``
    below it when given (``inside="als"``: the folder holds ``als/``). Returns the staging folder."""
    return copy_sources(staging_folder(scope, staging), {inside: source})
