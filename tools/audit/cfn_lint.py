"""cfn-lint: every match (errors block) and the resource-level ignores recorded with their reasons."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tools.audit.assembly import CloudAssembly, StackTemplate
from tools.audit.findings import finding, recorded_exceptions


def cfn_lint_exceptions(assembly: CloudAssembly) -> list[dict[str, Any]]:
    """Resource-level cfn-lint ignores (``cfn-lint.config.ignore_checks``) with the reasons recorded beside them."""

    def entries(metadata: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
        ignored = ((metadata.get("cfn-lint") or {}).get("config") or {}).get("ignore_checks") or []
        reasons = {
            item.get("id"): item.get("reason", "")
            for item in (metadata.get("audit-exceptions") or {}).get("cfn-lint") or []
        }
        return [(rule, reasons.get(rule, ""), {}) for rule in ignored]

    return recorded_exceptions(assembly, "cfn-lint", entries)


def run_cfn_lint(assembly: CloudAssembly, cfn_lint: Path, regions: list[str]) -> tuple[list[dict], str | None]:
    """All cfn-lint matches: errors blocking, warnings and informational listed. (findings, tool error)."""
    if not assembly.stacks:
        return [], None
    by_file = {stack.template_file.resolve(): stack for stack in assembly.stacks}
    command = [str(cfn_lint), "--regions", *regions, "--format", "json", "--", *(str(path) for path in by_file)]
    try:
        completed = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as error:
        return [], f"cfn-lint could not run: {error}"
    try:
        matches = json.loads(completed.stdout or "[]")
    except json.JSONDecodeError:
        return [], f"cfn-lint gave no JSON (exit {completed.returncode}): {completed.stderr[-1500:]}"
    found = []
    for match in matches:
        stack = by_file.get(Path(match.get("Filename", "")).resolve())
        location = (match.get("Location") or {}).get("Path") or []
        logical_id = location[1] if len(location) > 1 and location[0] == "Resources" else ""
        level = (match.get("Level") or "Error").lower()
        found.append(
            finding(
                "cfn-lint",
                (match.get("Rule") or {}).get("Id", "?"),
                stack.stack_name if stack else match.get("Filename", "?"),
                logical_id,
                stack.path_of(logical_id) if stack and logical_id else "/".join(map(str, location)),
                match.get("Message", ""),
                blocking=level == "error",
                level=level,
            )
        )
    return found, None


def regions_of(stacks: list[StackTemplate], manifest: dict[str, Any], default: str) -> list[str]:
    regions = set()
    for artifact in (manifest.get("artifacts") or {}).values():
        environment = artifact.get("environment") or ""
        if artifact.get("type") == "aws:cloudformation:stack" and environment.startswith("aws://"):
            region = environment.rsplit("/", 1)[-1]
            if region and region != "unknown-region":
                regions.add(region)
    return sorted(regions) or [default]
