"""What a change does to the infrastructure, against the base's cloud assembly (the report's first section).

    .venv/bin/python -m tools.audit.changes --cdk-out cdk.out --base-cdk-out cdk.out.base

Per stack, CDK's own template diff: ``cdk diff --app <cdk.out> --template <base template> --exclusively <stack>``
with the project's pinned CLI, offline (no credentials: a fixed template is never looked up in AWS). It lists
resources added, removed and modified (and which would be replaced), and tables of IAM statement and security
group changes. Stacks whose templates are identical are not diffed. Then the change in the cost estimate and in
the audit findings, computed from the two audits' data. Printed on its own, only the template diffs.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from tools.audit.assembly import AssemblyError, CloudAssembly, load_assembly
from tools.cdk_synth import CDK, offline_cli_environment

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Lines of `cdk diff` output that frame rather than describe the change.
_FRAME = re.compile(r"^(Stack \S+( \(.*\))?|✨\s+Number of stacks with differences: \d+|There were no differences)\s*$")
_RESOURCE_LINE = re.compile(r"^\[[+\-~]\] (AWS|Custom)::\S+")
_MARKS = {"+": "added", "-": "removed", "~": "modified"}
_TABLES = ("IAM Statement Changes", "IAM Policy Changes", "Security Group Changes")


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


def summarise(diff: str) -> str:
    """``"2 resources: 1 added, 1 modified (⚠️ 1 replaced); IAM statement changes"`` from a `cdk diff` text."""
    resources = [line for line in diff.splitlines() if _RESOURCE_LINE.match(line)]
    marks = Counter(_MARKS[line[1]] for line in resources)
    parts = []
    if marks:
        total = sum(marks.values())
        counted = ", ".join(f"{marks[kind]} {kind}" for kind in ("added", "removed", "modified") if marks[kind])
        replaced = sum(1 for line in resources if line.endswith(" replace"))
        maybe = sum(1 for line in resources if line.endswith(" may be replaced"))
        risks = [f"{replaced} replaced"] * bool(replaced) + [f"{maybe} may be replaced"] * bool(maybe)
        parts.append(
            f"{total} resource{'s' if total != 1 else ''}: {counted}" + (f" (⚠️ {', '.join(risks)})" if risks else "")
        )
    parts += [table.lower().replace("iam", "IAM") for table in _TABLES if table in diff]
    return "; ".join(parts) or "template properties outside resources"


def template_changes(current: CloudAssembly, base: CloudAssembly) -> list[dict[str, Any]]:
    """One entry per stack of either assembly (matched by stack id), changed stacks first."""
    base_stacks = {stack.artifact_id: stack for stack in base.stacks}
    entries = []
    for stack in current.stacks:
        before = base_stacks.pop(stack.artifact_id, None)
        entry = {"stack": stack.artifact_id, "stack_name": stack.stack_name, "diff": "", "summary": "no change"}
        if before is None:
            entry["status"] = "added"
        elif before.template == stack.template:
            entry["status"] = "unchanged"
        else:
            entry["status"] = "changed"
        if entry["status"] != "unchanged":
            entry["diff"] = cdk_diff(current.directory, stack.artifact_id, before.template if before else {})
            entry["summary"] = ("new stack: " if before is None else "") + summarise(entry["diff"])
        entries.append(entry)
    for removed in base_stacks.values():
        entries.append(
            {
                "stack": removed.artifact_id,
                "stack_name": removed.stack_name,
                "status": "removed",
                "diff": "",
                "summary": f"stack removed ({len(removed.resources)} resources; `cdk deploy` does not delete it)",
            }
        )
    return sorted(entries, key=lambda entry: entry["status"] == "unchanged")


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
    args = parser.parse_args(argv)
    try:
        entries = template_changes(load_assembly(args.cdk_out), load_assembly(args.base_cdk_out))
    except (AssemblyError, RuntimeError) as error:
        print(f"changes: {error}", file=sys.stderr)
        return 2
    for entry in entries:
        print(f"{entry['stack']} ({entry['stack_name']}): {entry['summary']}")
        if entry["diff"]:
            print(entry["diff"] + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
