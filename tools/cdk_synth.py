"""`cdk synth` of every stack into a cloud assembly, with one summary line in place of the CLI's chatter.

    .venv/bin/python -m tools.cdk_synth --output cdk.out [-c key=value ...]
    .venv/bin/python -m tools.cdk_synth --output cdk.out.base --ref main [-c ...]      (another commit)
    .venv/bin/python -m tools.cdk_synth --output cdk.out.base --source DIR [-c ...]    (another checkout)

With several stacks the CLI always says where it wrote the assembly and asks to "Supply a stack id ..." (even
with ``--quiet``); those two lines are dropped and one line naming the stacks is printed instead. Everything
else the CLI or the app prints (warnings, errors, cdk-nag findings, deprecations) passes through unchanged, so a
quiet run is a clean one. Exit status: the CLI's.

``--ref`` exports the committed tree of a git ref with ``git archive`` into a temporary directory (the working
tree, the index and the list of worktrees are left alone) and synthesises that; ``--source`` synthesises a
checkout that is already there (CI checks out a pull request's base). Either uses this checkout's toolchain
and that tree's ``cdk.json``. Your settings file (lab.settings.json, tools/context.py) is passed as ``-c`` context,
the ``-c`` arguments on top. The context the app was synthesised with (``cdk.json``'s, then your settings and the
``-c`` overrides) is written beside the templates as ``synth-context.json``, so an audit of the assembly reads the same
settings.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tools.context import parse_context, user_context

ROOT = Path(__file__).resolve().parents[1]
CDK = ROOT / "node_modules" / ".bin" / "cdk"
SYNTH_CONTEXT_FILE = "synth-context.json"
# The CLI's own progress lines for a multi-stack synth (tests/stacks/test_cli_synth.py runs the pinned CLI).
CLI_CHATTER = re.compile(r"^(Successfully synthesized to |Supply a stack id \()")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def offline_cli_environment() -> dict[str, str]:
    """The CLI's environment: the project's Node first, no version check, telemetry or instance metadata."""
    env = dict(os.environ)
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.update(
        CDK_DISABLE_VERSION_CHECK="1",
        CDK_DISABLE_CLI_TELEMETRY="true",
        JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION="1",
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def stack_ids(assembly: Path) -> list[str]:
    """The stacks of a cloud assembly as the CLI names them (``Storage``, ``Compute``, ...)."""
    manifest = json.loads((assembly / "manifest.json").read_text())
    return [
        artifact.get("displayName") or artifact_id
        for artifact_id, artifact in manifest.get("artifacts", {}).items()
        if artifact.get("type") == "aws:cloudformation:stack"
    ]


def synth_context(assembly: Path) -> dict[str, Any] | None:
    """The context an assembly made by this module was synthesised with; None for any other assembly."""
    recorded = Path(assembly) / SYNTH_CONTEXT_FILE
    return json.loads(recorded.read_text())["context"] if recorded.is_file() else None


def synthesise(output: Path, context: Sequence[str] = (), *, source: Path = ROOT) -> int:
    """Runs `cdk synth --quiet` in ``source`` into ``output``; forwards all but the CLI's chatter to stderr."""
    overrides = user_context(parse_context(list(context)))
    command = [str(CDK), "synth", "--quiet", "--no-notices", "--output", str(output.absolute())]
    if source.resolve() != ROOT:
        command += ["--app", f"{sys.executable} app.py"]  # that tree's cdk.json names a .venv it has not got
    for key, value in overrides.items():
        command += ["-c", f"{key}={value}"]
    with subprocess.Popen(
        command, cwd=source, env=offline_cli_environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            if not CLI_CHATTER.match(_ANSI.sub("", line)):
                sys.stderr.write(line)
    if process.returncode == 0:
        defaults = json.loads((source / "cdk.json").read_text()).get("context", {})
        record = {"context": {**defaults, **overrides}}
        (output / SYNTH_CONTEXT_FILE).write_text(json.dumps(record, indent=2) + "\n")
        print(f"synthesised {', '.join(stack_ids(output))} into {output}/")
    return process.returncode


def synthesise_ref(ref: str, output: Path, context: Sequence[str] = ()) -> int:
    """Synthesises the tree committed at ``ref`` (exported with ``git archive``, never checked out here)."""
    archive = subprocess.run(["git", "archive", "--format=tar", ref], cwd=ROOT, capture_output=True, check=False)
    if archive.returncode != 0:
        print(f"cdk_synth: cannot export {ref!r}: {archive.stderr.decode().strip()}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="synth-ref-") as scratch:
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(scratch, filter="data")
        print(f"{ref}: exported with git archive", file=sys.stderr)
        return synthesise(output, context, source=Path(scratch))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.cdk_synth", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--output", type=Path, default=Path("cdk.out"))
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--ref", help="a git ref (branch, tag, commit) of this repository to synthesise instead")
    where.add_argument("--source", type=Path, help="another checkout of the project to synthesise instead")
    parser.add_argument("-c", "--context", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    try:
        if args.ref:
            return synthesise_ref(args.ref, args.output, args.context)
        return synthesise(args.output, args.context, source=args.source or ROOT)
    except ValueError as error:
        print(f"cdk_synth: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
