"""What a change does to the infrastructure, against the base's cloud assembly (the report's first section).

    .venv/bin/python -m tools.audit.changes --cdk-out cdk.out --base-cdk-out cdk.out.base

Per stack, the resources CloudFormation would add, change in place, replace or remove, and why
(``tools/audit/replacement.py``: from the resource schemas' create-only properties, not CDK's cautious marker), and
what would stop the deployment; then CDK's own template diff (``cdk diff --app <cdk.out> --template <base template>
--exclusively <stack>`` with the project's pinned CLI, offline: a fixed template is never looked up in AWS) with its
replacement markers replaced by that verdict. Stacks whose templates are identical are not diffed. The change in the
cost estimate, in the security areas and in the audit findings is computed from the two audits' data. Printed on
its own (``make diff BASE=main``): each stack's summary and diff.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tools.audit.assembly import AssemblyError, CloudAssembly, load_assembly
from tools.audit.replacement import (
    ADDED,
    MAY_BE_REPLACED,
    REMOVED,
    REPLACED,
    UPDATED,
    StackChanges,
    assembly_changes,
)
from tools.cdk_synth import CDK, offline_cli_environment

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Lines of `cdk diff` output that frame rather than describe the change.
_FRAME = re.compile(r"^(Stack \S+( \(.*\))?|✨\s+Number of stacks with differences: \d+|There were no differences)\s*$")
# `[~] AWS::EC2::Instance Workstation/Instance WorkstationInstance12CEC509 may be replaced`: CDK's own marker last.
_RESOURCE_LINE = re.compile(r"^(?P<head>\[[+\-~]\] (?:AWS|Custom)::\S+ \S+ (?P<id>\S+))(?: replace| may be replaced)?$")
_PROPERTY_MARKER = re.compile(r" \((?:may cause|requires) replacement\)$")
# Which resources a stack's one-line summary names first, and how many.
_FIRST = (REPLACED, MAY_BE_REPLACED, REMOVED, ADDED, UPDATED)
_NAMED = 3


def cdk_diff(assembly_dir: Path, stack_id: str, base_template: dict[str, Any]) -> str:
    """CDK's diff of one stack of the assembly against a template; the framing lines dropped."""
    with tempfile.TemporaryDirectory(prefix="cdk-diff-") as scratch:
        template_file = Path(scratch) / "base.template.json"
        template_file.write_text(json.dumps(base_template))
        completed = subprocess.run(
            [
                str(CDK),
                "diff",
                "--app",
                str(Path(assembly_dir).absolute()),
                "--template",
                str(template_file),
                "--exclusively",
                stack_id,
                "--no-notices",
                "--no-color",
            ],
            cwd=scratch,  # no cdk.json here: the assembly and the template are all the CLI reads
            env=offline_cli_environment(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    output = _ANSI.sub("", completed.stdout + completed.stderr)
    if completed.returncode != 0:
        raise RuntimeError(f"cdk diff {stack_id} failed (exit {completed.returncode}): {output.strip()[-1500:]}")
    lines = [line.rstrip() for line in output.splitlines() if not _FRAME.match(line.strip())]
    return "\n".join(lines).strip("\n")


def annotate(diff: str, resources: list[dict[str, Any]]) -> str:
    """CDK's diff with its replacement markers ("replace", "may be replaced", "(may cause replacement)") replaced by
    the schemas' verdict on each resource line: ``→ changed: InstanceType: an update with a restart ...``."""
    verdicts = {change["logical_id"]: change for change in resources}
    lines = []
    for line in diff.splitlines():
        match = _RESOURCE_LINE.match(line)
        change = verdicts.get(match["id"]) if match else None
        if match is None:
            lines.append(_PROPERTY_MARKER.sub("", line))
        elif change and change["action"] in (REPLACED, MAY_BE_REPLACED, UPDATED):
            reasons = f": {'; '.join(change['reasons'])}" if change["reasons"] else ""
            lines.append(f"{match['head']} → {change['action']}{reasons}")
        else:
            lines.append(match["head"])
    return "\n".join(lines)


def summarise(changes: StackChanges) -> str:
    """``"2 replaced, 1 changed: Buckets/Results (BucketName is create-only), ..."``: counts, then the resources
    that matter most (replacements first), at most three."""
    counts = changes.counts()
    if not counts:
        return "no resource changes (outputs, parameters or metadata only)"
    ranked = sorted(changes.resources, key=lambda change: _FIRST.index(change.action))
    named = [change.describe() for change in ranked[:_NAMED]]
    more = f", and {len(ranked) - _NAMED} more" if len(ranked) > _NAMED else ""
    counted = ", ".join(f"{counts[action]} {action}" for action in _FIRST if action in counts)
    return f"{counted}: {', '.join(named)}{more}"


def template_changes(current: CloudAssembly, base: CloudAssembly, region: str) -> list[dict[str, Any]]:
    """One entry per stack of either assembly (matched by stack id), changed stacks first: status, the resources
    touched and why, what blocks the deployment and a one-line summary. ``diff`` is left for ``add_cdk_diffs``."""
    touched = assembly_changes(base, current, region)
    base_stacks = {stack.artifact_id: stack for stack in base.stacks}
    entries = []
    for stack in current.stacks:
        before = base_stacks.pop(stack.artifact_id, None)
        status = "added" if before is None else "unchanged" if before.template == stack.template else "changed"
        entries.append(_entry(stack.artifact_id, stack.stack_name, status, touched[stack.artifact_id]))
    for removed in base_stacks.values():
        entry = _entry(removed.artifact_id, removed.stack_name, "removed", touched[removed.artifact_id])
        entry["summary"] = f"stack removed ({len(removed.resources)} resources; `cdk deploy` does not delete it)"
        entries.append(entry)
    return sorted(entries, key=lambda entry: entry["status"] == "unchanged")


def _entry(stack_id: str, stack_name: str, status: str, changes: StackChanges) -> dict[str, Any]:
    summary = "no change" if status == "unchanged" else summarise(changes)
    return {
        "stack": stack_id,
        "stack_name": stack_name,
        "status": status,
        "summary": ("new stack: " if status == "added" else "") + summary,
        "counts": changes.counts(),
        "resources": [asdict(change) for change in changes.resources],
        "blocked": changes.blocked,
        "diff": "",
    }


def add_cdk_diffs(entries: list[dict[str, Any]], current: CloudAssembly, base: CloudAssembly) -> None:
    """Fills each added or changed stack's ``diff`` with CDK's, annotated (a CLI run per stack)."""
    base_stacks = {stack.artifact_id: stack for stack in base.stacks}
    for entry in entries:
        if entry["status"] in ("added", "changed"):
            before = base_stacks.get(entry["stack"])
            diff = cdk_diff(current.directory, entry["stack"], before.template if before else {})
            entry["diff"] = annotate(diff, entry["resources"])


def cost_change(current: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """The three months and one job at each size, before and after, and each priced line that changed.

    A line is the same before and after when it prices the same thing (the workstation at its construct path, the
    EMR primary or core node, a standing charge), whatever its instance type or quantity.
    """

    def pairs(key: str, value: str) -> dict[str, list[Any]]:
        old, new = base.get(key) or {}, current.get(key) or {}
        return {name: [(old.get(name) or {}).get(value), (new.get(name) or {}).get(value)] for name in new | old}

    def lines(cost: dict[str, Any]) -> dict[str, tuple[str, Any, str]]:
        hourly = {
            item.get("line", item["what"]): (item["what"], item.get("hourly"), "USD/hour")
            for item in cost.get("items", [])
        }
        monthly = {item["what"]: (item["what"], item.get("monthly"), "USD/month") for item in cost.get("standing", [])}
        return hourly | monthly

    before, after = lines(base), lines(current)
    changed = [
        {
            "line": key,
            "what": [before[key][0] if key in before else None, after[key][0] if key in after else None],
            "unit": (after.get(key) or before[key])[2],
            "usd": [before[key][1] if key in before else None, after[key][1] if key in after else None],
        }
        for key in sorted(before.keys() | after.keys())
        if before.get(key) != after.get(key)
    ]
    return {
        "months": pairs("months", "usd"),
        "jobs": pairs("jobs", "usd"),
        "budget_monthly_usd": [base.get("budget_monthly_usd"), current.get("budget_monthly_usd")],
        "lines": changed,
    }


_FIELDS = ("tool", "rule", "stack", "path")


def _keyed(items: list[dict[str, Any]]) -> dict[tuple[str, ...], dict[str, Any]]:
    return {tuple(item[field] for field in _FIELDS): item for item in items}


def findings_change(current: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """Blocking findings, recorded exceptions and cfn-lint warnings that this change adds or removes."""

    def exceptions(data: dict[str, Any]) -> list[dict[str, Any]]:
        return [item for items in data["acknowledged"].values() for item in items]

    rows = []
    for kind, now, then, detail in (
        ("blocking finding", current["blocking"], base["blocking"], "message"),
        ("exception", exceptions(current), exceptions(base), "reason"),
        ("cfn-lint warning", current["informational"]["cfn_lint"], base["informational"]["cfn_lint"], "message"),
    ):
        after, before = _keyed(now), _keyed(then)
        for key in sorted(set(after) | set(before)):
            new, old = after.get(key), before.get(key)
            if new and old and new.get(detail) == old.get(detail):
                continue
            item = new or old or {}
            change = "changed" if new and old else "added" if new else "removed"
            rows.append(
                {"kind": kind, "change": change, **dict(zip(_FIELDS, key, strict=True)), "detail": item[detail]}
            )
    counts = {
        "blocking": [len(base["blocking"]), len(current["blocking"])],
        "exceptions": [len(exceptions(base)), len(exceptions(current))],
        "cfn-lint warnings": [len(base["informational"]["cfn_lint"]), len(current["informational"]["cfn_lint"])],
    }
    return {"counts": counts, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.audit.changes", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cdk-out", type=Path, default=Path("cdk.out"))
    parser.add_argument("--base-cdk-out", type=Path, default=Path("cdk.out.base"))
    parser.add_argument("--region", default="eu-west-2", help="whose resource schemas to read (the stacks' region)")
    args = parser.parse_args(argv)
    try:
        current, base = load_assembly(args.cdk_out), load_assembly(args.base_cdk_out)
        entries = template_changes(current, base, args.region)
        add_cdk_diffs(entries, current, base)
    except (AssemblyError, RuntimeError) as error:
        print(f"changes: {error}", file=sys.stderr)
        return 2
    for entry in entries:
        print(f"{entry['stack']} ({entry['stack_name']}): {entry['summary']}")
        for reason in entry["blocked"]:
            print(f"  ⚠️ blocked: {reason}")
        if entry["diff"]:
            print(entry["diff"] + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
