"""What changed in each stack template, resource by resource, against the reviewed snapshots.

    .venv/bin/python -m tools.snapshots.diff [-c key=value ...] [--snapshots DIR]

Synthesises the app in-process from cdk.json's context (never needs AWS), normalises asset hashes exactly as
the snapshot tests do (``tools.snapshots.normalisation``), and compares each template with
``tests/stacks/__snapshots__/test_snapshots/test_template_matches_reviewed_snapshot[<stack>].json`` (syrupy's
JSON extension: the normalised template as plain JSON), where ``<stack>`` is the attribute of
``stacks.app_builder.LabStacks`` (``storage``, ``compute``, ...). Prints added / removed / changed resources with
the changed property paths. Exit 0: identical; 1: different (or a stack without snapshot); 2: synth failed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT_DIR = ROOT / "tests" / "stacks" / "__snapshots__" / "test_snapshots"
SNAPSHOT_FILE = re.compile(r"^test_template_matches_reviewed_snapshot\[(?P<stack>[A-Za-z0-9_]+)\]\.json$")
_MISSING = object()


def _prepare_environment() -> None:
    """jsii runs the CDK on Node: use the project's Node 24 (and Java) like tests/conftest.py does."""
    bin_dir = ROOT / ".venv" / "bin"
    if (bin_dir / "node").exists():
        os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    if (ROOT / ".venv" / "java-home").exists():
        os.environ.setdefault("JAVA_HOME", str(ROOT / ".venv" / "java-home"))
    os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")


CONSTRUCT_PATHS: dict[str, dict[str, str]] = {}  # stack name -> logical id -> construct path, of the last synth


def synthesise(context_overrides: dict[str, Any] | None = None) -> dict[str, tuple[str, dict[str, Any]]]:
    """LabStacks attribute -> (stack name, normalised template), synthesised from cdk.json's context.

    Also records each resource's construct path (from the assembly metadata) in ``CONSTRUCT_PATHS``, for display.
    """
    _prepare_environment()
    from aws_cdk import App

    from stacks.app_builder import build_app
    from stacks.settings import Settings
    from tools.snapshots.normalisation import normalise_template

    context = {**json.loads((ROOT / "cdk.json").read_text())["context"], **(context_overrides or {})}
    with tempfile.TemporaryDirectory(prefix="snapshot-diff-") as outdir:
        app = App(context=context, outdir=outdir)
        stacks = build_app(app, Settings.from_context(app.node.try_get_context))
        assembly = app.synth()
        templates = {stack.stack_name: stack.template for stack in assembly.stacks}
        from tools.audit.assembly import load_assembly

        CONSTRUCT_PATHS.update(
            {stack.stack_name: stack.construct_paths for stack in load_assembly(Path(outdir)).stacks}
        )
    return {
        attribute: (stack.stack_name, normalise_template(templates[stack.stack_name]))
        for attribute, stack in stack_attributes(stacks).items()
    }


def stack_attributes(stacks: Any) -> dict[str, Any]:
    """``{"storage": <StorageStack>, ...}``: the names the snapshot tests parametrise on."""
    if dataclasses.is_dataclass(stacks):
        return {
            field.name: getattr(stacks, field.name)
            for field in dataclasses.fields(stacks)
            if getattr(stacks, field.name) is not None
        }
    return {name: value for name, value in vars(stacks).items() if value is not None}


def load_snapshots(directory: Path = SNAPSHOT_DIR) -> dict[str, dict[str, Any]]:
    snapshots = {}
    for path in sorted(Path(directory).glob("*.json")):
        match = SNAPSHOT_FILE.match(path.name)
        if match:
            snapshots[match.group("stack")] = json.loads(path.read_text())
    return snapshots


# ---------------------------------------------------------------------------------------------- diffing
def _short(value: Any, limit: int = 100) -> str:
    if value is _MISSING:
        return "(absent)"
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def changed_paths(old: Any, new: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """Leaf-level differences as (dotted path, old, new); list items are compared by index."""
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in sorted(set(old) | set(new), key=str):
            found += changed_paths(
                old.get(key, _MISSING), new.get(key, _MISSING), f"{path}.{key}" if path else str(key)
            )
        return found
    if isinstance(old, list) and isinstance(new, list):
        found = []
        for index in range(max(len(old), len(new))):
            found += changed_paths(
                old[index] if index < len(old) else _MISSING,
                new[index] if index < len(new) else _MISSING,
                f"{path}[{index}]",
            )
        return found
    return [] if old == new else [(path, old, new)]


def diff_templates(old: dict[str, Any], new: dict[str, Any], paths: dict[str, str] | None = None) -> list[str]:
    """Readable lines: resources added (+), removed (-), changed (~ with property paths); other sections too.

    ``paths`` maps logical ids to construct paths, shown when the template has no ``aws:cdk:path`` metadata.
    """
    lines: list[str] = []

    def _path_of(resource: dict[str, Any], logical_id: str) -> str:
        return (resource.get("Metadata") or {}).get("aws:cdk:path") or (paths or {}).get(logical_id, "")

    old_resources, new_resources = old.get("Resources") or {}, new.get("Resources") or {}
    for logical_id in sorted(set(new_resources) - set(old_resources)):
        resource = new_resources[logical_id]
        lines.append(f"  + added    {resource.get('Type')} {logical_id}  {_path_of(resource, logical_id)}")
    for logical_id in sorted(set(old_resources) - set(new_resources)):
        resource = old_resources[logical_id]
        lines.append(f"  - removed  {resource.get('Type')} {logical_id}  {_path_of(resource, logical_id)}")
    for logical_id in sorted(set(old_resources) & set(new_resources)):
        differences = changed_paths(old_resources[logical_id], new_resources[logical_id])
        if differences:
            resource = new_resources[logical_id]
            lines.append(f"  ~ changed  {resource.get('Type')} {logical_id}  {_path_of(resource, logical_id)}")
            lines += [f"      {path}: {_short(before)} -> {_short(after)}" for path, before, after in differences]
    for section in sorted((set(old) | set(new)) - {"Resources"}):
        differences = changed_paths(old.get(section, _MISSING), new.get(section, _MISSING), section)
        lines += [f"  ~ {path}: {_short(before)} -> {_short(after)}" for path, before, after in differences]
    return lines


def compare(
    current: dict[str, tuple[str, dict[str, Any]]], snapshots: dict[str, dict[str, Any]]
) -> tuple[list[str], bool]:
    """(report lines, whether anything differs) for current templates {attribute: (stack name, template)}."""
    lines: list[str] = []
    differs = False
    for attribute in sorted(set(current) | set(snapshots)):
        snapshot_name = f"test_template_matches_reviewed_snapshot[{attribute}].json"
        if attribute not in snapshots:
            stack_name, template = current[attribute]
            differs = True
            lines.append(
                f"{stack_name}: NEW stack, no reviewed snapshot ({snapshot_name}); "
                f"{len(template.get('Resources') or {})} resources"
            )
            continue
        if attribute not in current:
            differs = True
            lines.append(f"{attribute}: snapshot {snapshot_name} has no stack in the app (stack removed or renamed)")
            continue
        stack_name, template = current[attribute]
        changes = diff_templates(snapshots[attribute], template, CONSTRUCT_PATHS.get(stack_name))
        if changes:
            differs = True
            lines.append(f"{stack_name}: differs from {snapshot_name}")
            lines += changes
        else:
            lines.append(f"{stack_name}: identical to {snapshot_name}")
    return lines, differs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.snapshots.diff", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--snapshots", type=Path, default=SNAPSHOT_DIR)
    parser.add_argument("-c", "--context", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    overrides = dict(pair.split("=", 1) for pair in args.context if "=" in pair)
    try:
        current = synthesise(overrides)
    except Exception as error:
        print(f"snapshot_diff: synthesis failed: {error}", file=sys.stderr)
        return 2
    lines, differs = compare(current, load_snapshots(args.snapshots))
    print("\n".join(lines))
    if differs:
        print(
            "\nTemplates differ from the reviewed snapshots. If intended, update them on purpose "
            "(`make snapshot-update`) and say why in the commit."
        )
    return 1 if differs else 0


if __name__ == "__main__":
    sys.exit(main())
