"""checkov: failed checks over the templates (blocking) and the skips declared in template Metadata."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from tools.audit.assembly import CloudAssembly
from tools.audit.findings import finding, recorded_exceptions


def checkov_skips(assembly: CloudAssembly) -> list[dict[str, Any]]:
    """Skips declared in template Metadata, in checkov's own format (``checkov.skip: [{id, comment}]``)."""
    return recorded_exceptions(
        assembly,
        "checkov",
        lambda metadata: (
            (skip.get("id", "?"), skip.get("comment", ""), {})
            for skip in (metadata.get("checkov") or {}).get("skip") or []
        ),
    )


def run_checkov(assembly: CloudAssembly, checkov: Path) -> tuple[list[dict], dict[str, Any], str | None]:
    """Failed checks (blocking) over the templates only (never the asset directories); (findings, summary, error)."""
    if not assembly.stacks:
        return [], {}, None
    if not Path(checkov).exists():
        return [], {}, f"checkov not found at {checkov}: run `make .venv-checkov/.installed`"
    by_name = {stack.template_file.name: stack for stack in assembly.stacks}
    command = [str(checkov), "--framework", "cloudformation", "--output", "json", "--compact", "--skip-download"]
    for stack in assembly.stacks:
        command += ["-f", str(stack.template_file.resolve())]
    env = dict(os.environ, BC_SKIP_MAPPING="TRUE", CHECKOV_NO_OUTPUT_TRUNCATION="TRUE")
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, check=False, env=env, cwd=assembly.directory
        )
    except OSError as error:
        return [], {}, f"checkov could not run: {error}"
    try:
        reports = json.loads(completed.stdout)
    except json.JSONDecodeError:
        return [], {}, f"checkov gave no JSON (exit {completed.returncode}): {completed.stderr[-1500:]}"
    reports = reports if isinstance(reports, list) else [reports]
    found: list[dict[str, Any]] = []
    counts = {"passed": 0, "failed": 0, "skipped": 0, "parsing_errors": 0}
    honoured_skips: list[dict[str, str]] = []
    for report in reports:
        if report.get("check_type") not in (None, "cloudformation"):
            continue
        for key in counts:
            counts[key] += int((report.get("summary") or report).get(key, 0) or 0)
        results = report.get("results") or {}
        for check in results.get("failed_checks") or []:
            failed_in = by_name.get(Path(check.get("file_path", "")).name)
            logical_id = str(check.get("resource", "")).split(".", 1)[-1]
            found.append(
                finding(
                    "checkov",
                    check.get("check_id", "?"),
                    failed_in.stack_name if failed_in else check.get("file_path", "?"),
                    logical_id,
                    failed_in.path_of(logical_id) if failed_in else logical_id,
                    check.get("check_name", ""),
                    blocking=True,
                )
            )
        for check in results.get("skipped_checks") or []:
            honoured_skips.append(
                {"rule": check.get("check_id"), "resource": str(check.get("resource", "")).split(".", 1)[-1]}
            )
    summary: dict[str, Any] = {**counts, "honoured_skips": honoured_skips}
    if summary["parsing_errors"]:
        return found, summary, f"checkov could not parse {summary['parsing_errors']} template(s)"
    return found, summary, None
