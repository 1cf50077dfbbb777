"""Runs and parses the audit's scanners: cdk-nag (gate result + acknowledgements + informational packs),
cfn-lint and checkov. Every finding is a plain dict, so the JSON report can carry it unchanged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.audit_cloud_assembly import CloudAssembly, StackTemplate

BLOCKING_NAG_PACKS = ("AwsSolutions", "Serverless")
INFORMATIONAL_NAG_PACKS = ("HIPAA.Security", "NIST.800.53.R5")


def finding(tool: str, rule: str, stack: str, resource: str, path: str, message: str, *, blocking: bool,
            level: str = "error") -> dict[str, Any]:
    return {
        "tool": tool, "rule": rule, "stack": stack, "resource": resource, "path": path,
        "message": message, "blocking": blocking, "level": level,
    }


def _stack_of_path(assembly: CloudAssembly, construct_path: str) -> tuple[str, str]:
    """(stack name, logical id) of a construct path, matched against each template's aws:cdk:path."""
    for stack in assembly.stacks:
        for logical_id in stack.resources:
            if stack.path_of(logical_id) == construct_path:
                return stack.stack_name, logical_id
    top = construct_path.split("/", 1)[0]
    for stack in assembly.stacks:
        if stack.artifact_id == top:
            return stack.stack_name, ""
    return top, ""


# ---------------------------------------------------------------------------------------------- cdk-nag
def nag_acknowledgements(assembly: CloudAssembly) -> list[dict[str, Any]]:
    """Every acknowledged cdk-nag finding, as written into resource Metadata by write_suppressions_to_cloud_formation."""
    found = []
    for stack in assembly.stacks:
        for logical_id, resource in stack.resources.items():
            for rule in ((resource.get("Metadata") or {}).get("cdk_nag") or {}).get("rules_to_suppress") or []:
                found.append({
                    "tool": "cdk-nag", "rule": rule.get("id", "?"), "stack": stack.stack_name,
                    "resource": logical_id, "path": stack.path_of(logical_id), "reason": rule.get("reason", ""),
                    "applies_to": rule.get("applies_to") or rule.get("appliesTo") or [],
                })
    return found


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
                stack, logical_id = _stack_of_path(assembly, path)
                found.append({
                    "pack": plugin.get("pluginName", "?"), "rule": violation.get("ruleName", "?"),
                    "description": violation.get("description", ""), "stack": stack, "resource": logical_id,
                    "path": path,
                })
    return found


def nag_gate_findings(assembly: CloudAssembly) -> list[dict[str, Any]]:
    """Blocking: any violation in the assembly's own validation report (the synth gate should have stopped it)."""
    return [
        finding("cdk-nag", item["rule"], item["stack"], item["resource"], item["path"], item["description"],
                blocking=True)
        for item in parse_validation_report(assembly, assembly.directory / "validation-report.json")
    ]


@dataclass
class ComplianceRun:
    """The informational HIPAA / NIST synthesis: started early, collected later (it runs alongside the scanners)."""

    process: subprocess.Popen[str] | None
    outdir: Path
    error: str | None = None


def start_compliance_synth(outdir: Path, context_overrides: dict[str, Any]) -> ComplianceRun:
    """Synthesises the app again, in a child Python, with the HIPAA Security and NIST 800-53 rev5 packs added."""
    outdir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
    java_home = Path(sys.executable).parent.parent / "java-home"
    if java_home.exists():
        env.setdefault("JAVA_HOME", str(java_home))
    command = [sys.executable, "-m", "tools.audit_compliance_synth", "--outdir", str(outdir),
               "--context-json", json.dumps(context_overrides)]
    root = Path(__file__).resolve().parent.parent
    env["PYTHONPATH"] = f"{root}{os.pathsep}{env['PYTHONPATH']}" if env.get("PYTHONPATH") else str(root)
    process = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    return ComplianceRun(process, outdir)


def finish_compliance_synth(run: ComplianceRun, assembly: CloudAssembly) -> dict[str, Any]:
    """Findings per pack and rule (informational), and whether the re-synthesised templates match cdk.out."""
    result: dict[str, Any] = {"ran": False, "packs": {}, "findings": [], "templates_match_cdk_out": None,
                              "error": run.error}
    if run.process is None:
        return result
    output, _ = run.process.communicate()
    if run.process.returncode != 0:
        result["error"] = f"compliance synthesis failed (exit {run.process.returncode}): {output[-2000:]}"
        return result
    result["ran"] = True
    violations = [
        item for item in parse_validation_report(assembly, run.outdir / "validation-report.json")
        if item["pack"] in INFORMATIONAL_NAG_PACKS
    ]
    result["findings"] = violations
    for pack in INFORMATIONAL_NAG_PACKS:
        rules: dict[str, dict[str, Any]] = {}
        for item in violations:
            if item["pack"] != pack:
                continue
            entry = rules.setdefault(item["rule"], {"count": 0, "description": item["description"], "paths": []})
            entry["count"] += 1
            entry["paths"].append(item["path"])
        result["packs"][pack] = dict(sorted(rules.items()))
    result["templates_match_cdk_out"] = _same_templates(assembly, run.outdir)
    return result


# Metadata the CDK CLI adds (pathMetadata, asset metadata) and an in-process App does not: presentation only.
_CLI_ONLY_METADATA = ("aws:cdk:path", "aws:asset:")


def _comparable(template: dict[str, Any]) -> dict[str, Any]:
    from stacks.template_normalisation import normalise_template

    template = normalise_template(template)
    for resource in (template.get("Resources") or {}).values():
        metadata = resource.get("Metadata")
        if isinstance(metadata, dict):
            for key in [k for k in metadata if k.startswith(_CLI_ONLY_METADATA)]:
                del metadata[key]
            if not metadata:
                del resource["Metadata"]
    return template


def _same_templates(assembly: CloudAssembly, other_dir: Path) -> bool:
    for stack in assembly.stacks:
        other = other_dir / stack.template_file.name
        if not other.is_file():
            return False
        if _comparable(json.loads(other.read_text())) != _comparable(stack.template):
            return False
    return True


# ---------------------------------------------------------------------------------------------- cfn-lint
def cfn_lint_exceptions(assembly: CloudAssembly) -> list[dict[str, Any]]:
    """Resource-level cfn-lint ignores (``cfn-lint.config.ignore_checks``) with the reasons recorded beside them."""
    found = []
    for stack in assembly.stacks:
        for logical_id, resource in stack.resources.items():
            metadata = resource.get("Metadata") or {}
            ignored = ((metadata.get("cfn-lint") or {}).get("config") or {}).get("ignore_checks") or []
            reasons = {item.get("id"): item.get("reason", "") for item in
                       (metadata.get("audit-exceptions") or {}).get("cfn-lint") or []}
            for rule in ignored:
                found.append({
                    "tool": "cfn-lint", "rule": rule, "stack": stack.stack_name, "resource": logical_id,
                    "path": stack.path_of(logical_id), "reason": reasons.get(rule, ""),
                })
    return found


def run_cfn_lint(assembly: CloudAssembly, cfn_lint: Path, regions: list[str]) -> tuple[list[dict], str | None]:
    """All cfn-lint matches: errors blocking, warnings and informational listed. (findings, tool error)."""
    if not assembly.stacks:
        return [], None
    by_file = {stack.template_file.resolve(): stack for stack in assembly.stacks}
    command = [str(cfn_lint), "--regions", *regions, "--format", "json", "--",
               *(str(path) for path in by_file)]
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
        found.append(finding(
            "cfn-lint", (match.get("Rule") or {}).get("Id", "?"),
            stack.stack_name if stack else match.get("Filename", "?"), logical_id,
            stack.path_of(logical_id) if stack and logical_id else "/".join(map(str, location)),
            match.get("Message", ""), blocking=level == "error", level=level,
        ))
    return found, None


# ---------------------------------------------------------------------------------------------- checkov
def checkov_skips(assembly: CloudAssembly) -> list[dict[str, Any]]:
    """Skips declared in template Metadata, in checkov's own format (``checkov.skip: [{id, comment}]``)."""
    found = []
    for stack in assembly.stacks:
        for logical_id, resource in stack.resources.items():
            for skip in ((resource.get("Metadata") or {}).get("checkov") or {}).get("skip") or []:
                found.append({
                    "tool": "checkov", "rule": skip.get("id", "?"), "stack": stack.stack_name,
                    "resource": logical_id, "path": stack.path_of(logical_id), "reason": skip.get("comment", ""),
                })
    return found


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
        completed = subprocess.run(command, capture_output=True, text=True, check=False, env=env,
                                   cwd=assembly.directory)
    except OSError as error:
        return [], {}, f"checkov could not run: {error}"
    try:
        reports = json.loads(completed.stdout)
    except json.JSONDecodeError:
        return [], {}, f"checkov gave no JSON (exit {completed.returncode}): {completed.stderr[-1500:]}"
    reports = reports if isinstance(reports, list) else [reports]
    found: list[dict[str, Any]] = []
    summary = {"passed": 0, "failed": 0, "skipped": 0, "parsing_errors": 0, "honoured_skips": []}
    for report in reports:
        if report.get("check_type") not in (None, "cloudformation"):
            continue
        for key in ("passed", "failed", "skipped", "parsing_errors"):
            summary[key] += int((report.get("summary") or report).get(key, 0) or 0)
        results = report.get("results") or {}
        for check in results.get("failed_checks") or []:
            stack = by_name.get(Path(check.get("file_path", "")).name)
            logical_id = str(check.get("resource", "")).split(".", 1)[-1]
            found.append(finding(
                "checkov", check.get("check_id", "?"), stack.stack_name if stack else check.get("file_path", "?"),
                logical_id, stack.path_of(logical_id) if stack else logical_id, check.get("check_name", ""),
                blocking=True,
            ))
        for check in results.get("skipped_checks") or []:
            summary["honoured_skips"].append(
                {"rule": check.get("check_id"), "resource": str(check.get("resource", "")).split(".", 1)[-1]}
            )
    if summary["parsing_errors"]:
        return found, summary, f"checkov could not parse {summary['parsing_errors']} template(s)"
    return found, summary, None


def regions_of(stacks: list[StackTemplate], manifest: dict[str, Any], default: str) -> list[str]:
    regions = set()
    for artifact in (manifest.get("artifacts") or {}).values():
        environment = artifact.get("environment") or ""
        if artifact.get("type") == "aws:cloudformation:stack" and environment.startswith("aws://"):
            region = environment.rsplit("/", 1)[-1]
            if region and region != "unknown-region":
                regions.add(region)
    return sorted(regions) or [default]
