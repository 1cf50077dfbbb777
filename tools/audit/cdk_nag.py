"""cdk-nag: the synth gate's result, the acknowledged findings, and validation reports of any pack."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tools.audit.assembly import CloudAssembly
from tools.audit.findings import finding, recorded_exceptions, stack_of_path

INFORMATIONAL_NAG_PACKS = ("HIPAA.Security", "NIST.800.53.R5")


def nag_acknowledgements(assembly: CloudAssembly) -> list[dict[str, Any]]:
    """Every acknowledged cdk-nag finding, as written into resource Metadata by write_suppressions_to_cloud_formation."""
    return recorded_exceptions(
        assembly,
        "cdk-nag",
        lambda metadata: (
            (
                rule.get("id", "?"),
                rule.get("reason", ""),
                {"applies_to": rule.get("applies_to") or rule.get("appliesTo") or []},
            )
            for rule in (metadata.get("cdk_nag") or {}).get("rules_to_suppress") or []
        ),
    )


def parse_validation_report(assembly: CloudAssembly, report_file: Path) -> list[dict[str, Any]]:
    """Violations in a CDK ``validation-report.json`` (one per rule and construct)."""
    if not report_file.is_file():
        return []
    report = json.loads(report_file.read_text())
    found = []
    for plugin in report.get("pluginReports") or []:
        for violation in plugin.get("violations") or []:
            for construct in violation.get("violatingConstructs") or []:
                path = construct.get("constructPath", "")
                stack, logical_id = stack_of_path(assembly, path)
                found.append(
                    {
                        "pack": plugin.get("pluginName", "?"),
                        "rule": violation.get("ruleName", "?"),
                        "description": violation.get("description", ""),
                        "stack": stack,
                        "resource": logical_id,
                        "path": path,
                    }
                )
    return found


def nag_gate_findings(assembly: CloudAssembly) -> list[dict[str, Any]]:
    """Blocking: any violation in the assembly's own validation report (the synth gate should have stopped it)."""
    return [
        finding(
            "cdk-nag", item["rule"], item["stack"], item["resource"], item["path"], item["description"], blocking=True
        )
        for item in parse_validation_report(assembly, assembly.directory / "validation-report.json")
    ]
