"""Builds the workstation's wheelhouse for the isolated network mode (no route to PyPI from the VPC).

    python -m tools.wheelhouse [--if-needed] [-c key=value ...]      # make wheelhouse; make deploy runs --if-needed

Into ``workstation_wheelhouse_dir`` (default build/wheelhouse): pyspark (the EMR release's version, a pure-Python
wheel built from PyPI's source distribution) with its py4j, and numpy for the workstation's CPU and Amazon Linux
2023's Python 3.9; a requirements file naming exactly those files; and a manifest that ``cdk synth`` checks
(stacks/app_builder.py). The synth ships the directory as a CDK asset, which ``cdk deploy`` uploads before it
creates or updates the stack, so the workstation's first boot finds it. Needs PyPI, once; ``--if-needed`` does
nothing in the public network mode (the workstation installs from PyPI itself) or when the manifest already
matches the settings.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from stacks.app_builder import PROJECT_ROOT, wheelhouse_target
from stacks.constructs.workstation import NUMPY_REQUIREMENT, WHEELHOUSE_MANIFEST, WHEELHOUSE_REQUIREMENTS
from stacks.settings import Settings, SettingsError
from tools.context import parse_context, settings_from

PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}


def directory_of(settings: Settings) -> Path:
    directory = Path(settings.workstation_wheelhouse_dir).expanduser()
    return directory if directory.is_absolute() else PROJECT_ROOT / directory


def pip_commands(target: dict[str, str], into: Path) -> list[list[str]]:
    """pip, twice: pyspark and py4j are pure Python (built or fetched for any platform); numpy is a binary
    wheel, so it is downloaded for the workstation's platform and Python, never built."""
    python = target["python"]
    return [
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(into), f"pyspark=={target['pyspark']}"],
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--only-binary=:all:",
            "--implementation",
            "cp",
            "--python-version",
            python,
            "--abi",
            f"cp{python.replace('.', '')}",
            "--platform",
            PLATFORMS[target["architecture"]],
            "--dest",
            str(into),
            NUMPY_REQUIREMENT,
        ],
    ]


def write_index(directory: Path, target: dict[str, str], *, placeholder: bool = False) -> dict[str, Any]:
    """The requirements file (one pin per wheel in the directory) and the manifest the synth checks."""
    wheels = sorted(path.name for path in directory.glob("*.whl"))
    pins = []
    for name in wheels:
        project, version = name.split("-")[:2]
        pins.append(f"{project.replace('_', '-').lower()}=={version}")
    (directory / WHEELHOUSE_REQUIREMENTS).write_text("".join(f"{pin}\n" for pin in pins))
    manifest: dict[str, Any] = {
        **target,
        "files": wheels,
        "built": datetime.datetime.now(datetime.UTC).date().isoformat(),
    }
    if placeholder:
        manifest["placeholder"] = "no wheels: for synthesis only (tests, cost analysis); make wheelhouse builds one"
    (directory / WHEELHOUSE_MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def placeholder(directory: Path, target: dict[str, str]) -> Path:
    """A wheelhouse with a manifest and no wheels, so an isolated app can be synthesised without PyPI. Deploying it
    would leave the workstation without pyspark: ``make deploy`` replaces it (``--if-needed`` rebuilds it)."""
    directory.mkdir(parents=True, exist_ok=True)
    write_index(directory, target, placeholder=True)
    return directory


def with_placeholder(context: dict[str, Any], directory: Path) -> dict[str, Any]:
    """``context`` (a full CDK context) with a placeholder wheelhouse under ``directory`` when its network mode is
    isolated, for synthesising without PyPI (tests, the lifecycle test, the cost table); else unchanged."""
    settings = Settings.from_context(context.get)
    if settings.network_mode != "isolated":
        return context
    target = wheelhouse_target(settings)
    path = placeholder(directory / "-".join(target[key] for key in sorted(target)), target)
    return {**context, "workstation_wheelhouse_dir": str(path)}


def is_current(directory: Path, target: dict[str, str]) -> bool:
    try:
        manifest = json.loads((directory / WHEELHOUSE_MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    return "placeholder" not in manifest and all(manifest.get(key) == value for key, value in target.items())


def build(directory: Path, target: dict[str, str]) -> dict[str, Any]:
    """Builds into a scratch directory, then replaces ``directory``: a failed build leaves the old one intact."""
    with tempfile.TemporaryDirectory(prefix="wheelhouse-") as scratch:
        staging = Path(scratch) / "wheelhouse"
        staging.mkdir()
        for command in pip_commands(target, staging):
            subprocess.run(command, check=True)
        manifest = write_index(staging, target)
        if directory.exists():
            shutil.rmtree(directory)
        directory.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(staging, directory)
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--if-needed", action="store_true", help="only in the isolated mode, only when stale; silent otherwise"
    )
    parser.add_argument("-c", "--context", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    try:
        settings = settings_from(parse_context(args.context))
    except (SettingsError, ValueError) as error:
        print(f"Invalid setting: {error}", file=sys.stderr)
        return 2
    directory, target = directory_of(settings), wheelhouse_target(settings)
    # --if-needed (make synth, make deploy) says nothing when there is nothing to do: a warm tree's make synth prints
    # its one line.
    if args.if_needed and (settings.network_mode != "isolated" or is_current(directory, target)):
        return 0
    try:
        manifest = build(directory, target)
    except subprocess.CalledProcessError as error:
        print(f"wheelhouse: pip failed ({error}); {directory} is unchanged", file=sys.stderr)
        return 1
    print(f"wheelhouse: {directory}: {', '.join(manifest['files'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
