"""Audits a synthesised cloud assembly and writes reports/audit.md + reports/audit.json.

    .venv/bin/python -m tools.audit --cdk-out cdk.out --checkov .venv-checkov/bin/checkov --report-dir reports

Blocking (exit 1, each printed as tool, rule id, stack, construct path):
  * cdk-nag AwsSolutions + Serverless: already enforced by `cdk synth`; any violation left in cdk.out's
    validation-report.json is reported again here;
  * cfn-lint errors; checkov failed checks not skipped in template Metadata;
  * a scanner that cannot run, and an exception (acknowledgement / ignore / skip) recorded without a reason.
Informational: cdk-nag HIPAA Security + NIST 800-53 rev5 (a second, in-process synthesis in a child Python),
cfn-lint warnings, IAM, network exposure, encryption, cost and the architecture diagram.

With ``--base-cdk-out`` (``make audit BASE=main``) the report leads with the change against that assembly: CDK's
template diff per stack, then the change in cost and in findings (``tools/audit/changes.py``); the full state
follows, folded.
Exit 2 when cdk.out is missing or the context is invalid. Never needs AWS credentials or network.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from stacks.compliance.acknowledgements import is_real_reason
from stacks.settings import Settings
from tools.audit import cdk_nag, cfn_lint, changes, checkov, compliance, cost, diagram, encryption, iam, network
from tools.audit.assembly import AssemblyError, CloudAssembly, load_assembly
from tools.audit.findings import finding
from tools.audit.report import render_markdown
from tools.cdk_synth import synth_context
from tools.context import parse_context

ROOT = Path(__file__).resolve().parents[2]


def settings_for(assembly_dir: Path, overrides: dict[str, Any]) -> tuple[Settings, dict[str, Any]]:
    """The settings an assembly was synthesised with, and the context overrides that give them.

    An assembly made by ``tools.cdk_synth`` (``make synth``) records its context; for any other, cdk.json's
    context is assumed. ``-c`` overrides win either way.
    """
    recorded = synth_context(assembly_dir)
    defaults = json.loads((ROOT / "cdk.json").read_text())["context"]
    context = {**(defaults if recorded is None else recorded), **overrides}
    changed = {key: value for key, value in context.items() if defaults.get(key, object()) != value}
    return Settings.from_context(context.get), changed


def build_arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.audit", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cdk-out", type=Path, default=Path("cdk.out"))
    parser.add_argument("--checkov", type=Path, default=ROOT / ".venv-checkov" / "bin" / "checkov")
    parser.add_argument("--cfn-lint", type=Path, default=Path(sys.executable).with_name("cfn-lint"))
    parser.add_argument("--report-dir", type=Path, default=Path("reports"))
    parser.add_argument("--prices", type=Path, default=cost.PRICES_FILE)
    parser.add_argument(
        "-c",
        "--context",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="context on top of what cdk.out was synthesised with (recorded by make synth; else cdk.json's)",
    )
    parser.add_argument(
        "--base-cdk-out",
        type=Path,
        help="the base's cloud assembly (make audit BASE=main): the report then leads with what changed",
    )
    parser.add_argument("--base-label", help="how the report names the base, e.g. main (default: its path)")
    parser.add_argument(
        "--skip-compliance",
        action="store_true",
        help="do not run the informational HIPAA / NIST synthesis (the report says so)",
    )
    return parser


def _scan(
    assembly: CloudAssembly, settings: Settings, args: argparse.Namespace, compliance_run: compliance.ComplianceRun
) -> dict[str, Any]:
    """Every scanner and analysis over one assembly: the audit data without its verdict."""
    manifest = json.loads((assembly.directory / "manifest.json").read_text())
    try:
        regions = cfn_lint.regions_of(assembly.stacks, manifest, settings.region)
        lint, lint_error = cfn_lint.run_cfn_lint(assembly, args.cfn_lint, regions)
        checkov_failed, checkov_summary, checkov_error = checkov.run_checkov(assembly, args.checkov)
        gate = cdk_nag.nag_gate_findings(assembly)
        acknowledged = {
            "cdk-nag": cdk_nag.nag_acknowledgements(assembly),
            "cfn-lint": cfn_lint.cfn_lint_exceptions(assembly),
            "checkov": checkov.checkov_skips(assembly),
        }
        analyses = {
            "iam": iam.roles(assembly),
            "network": network.exposure(assembly),
            "encryption": encryption.stores(assembly),
            "cost": cost.estimate(assembly, settings, cost.load_prices(args.prices)),
            "diagram": diagram.mermaid(assembly),
        }
    finally:
        compliance_result = compliance.finish_compliance_synth(compliance_run, assembly)

    if checkov_summary and not checkov_error:
        honoured = {(item["rule"], item["resource"]) for item in checkov_summary.get("honoured_skips", [])}
        for skip in acknowledged["checkov"]:
            skip["honoured"] = (skip["rule"], skip["resource"]) in honoured
    tool_errors = [
        finding(tool, "TOOL-ERROR", "*", "", "*", error, blocking=True)
        for tool, error in (("cfn-lint", lint_error), ("checkov", checkov_error))
        if error
    ]
    missing_reasons = [
        finding(
            item["tool"],
            item["rule"],
            item["stack"],
            item["resource"],
            item["path"],
            "exception recorded without a reason",
            blocking=True,
        )
        for items in acknowledged.values()
        for item in items
        if not is_real_reason(item.get("reason"))
    ]
    lint_errors = [f for f in lint if f["blocking"]]
    blocking = gate + lint_errors + checkov_failed + tool_errors + missing_reasons
    compliance_total = sum(rule["count"] for rules in compliance_result["packs"].values() for rule in rules.values())

    def verdict(failures: list, error: str | None = None) -> str:
        return f"❌ {error}" if error else (f"❌ {len(failures)} finding(s)" if failures else "✅ pass")

    checks = [
        {"check": "cdk-nag AwsSolutions + Serverless (synth gate)", "blocking": "yes", "result": verdict(gate)},
        {"check": "cfn-lint errors", "blocking": "yes", "result": verdict(lint_errors, lint_error)},
        {"check": "checkov (cloudformation)", "blocking": "yes", "result": verdict(checkov_failed, checkov_error)},
        {"check": "every exception has a reason", "blocking": "yes", "result": verdict(missing_reasons)},
        {
            "check": "cdk-nag HIPAA Security + NIST 800-53 rev5",
            "blocking": "no (informational)",
            "result": f"{compliance_total} finding(s)"
            if compliance_result["ran"]
            else f"not run: {compliance_result['error']}",
        },
        {"check": "cfn-lint warnings", "blocking": "no", "result": f"{len(lint) - len(lint_errors)} warning(s)"},
    ]
    return {
        "cdk_out": str(assembly.directory),
        "result": "fail" if blocking else "pass",
        "checks": checks,
        "blocking": blocking,
        "stacks": [
            {
                "name": stack.stack_name,
                "artifact_id": stack.artifact_id,
                "template": stack.template_file.name,
                "resource_count": len(stack.resources),
                "resources_by_type": stack.resource_counts(),
            }
            for stack in assembly.stacks
        ],
        "acknowledged": acknowledged,
        "informational": {"compliance": compliance_result, "cfn_lint": [f for f in lint if not f["blocking"]]},
        "checkov": checkov_summary,
        **analyses,
    }


def _changes(data: dict[str, Any], assembly: CloudAssembly, args: argparse.Namespace) -> dict[str, Any]:
    """The change-first section: the base audited the same way (without the informational packs), then compared."""
    label = args.base_label or str(args.base_cdk_out)
    try:
        base = load_assembly(args.base_cdk_out)
        base_settings, _ = settings_for(base.directory, {})
    except (AssemblyError, ValueError) as error:
        return {"base": label, "error": f"no base to compare with: {error}"}
    skipped = compliance.ComplianceRun(None, base.directory, error="not run for the base")
    base_data = _scan(base, base_settings, args, skipped)
    try:
        stacks = changes.template_changes(assembly, base)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
        return {"base": label, "error": f"cdk diff could not run: {error}"}
    return {
        "base": label,
        "base_cdk_out": str(args.base_cdk_out),
        "stacks": stacks,
        "cost": changes.cost_change(data["cost"], base_data["cost"]),
        "findings": changes.findings_change(data, base_data),
    }


def audit(args: argparse.Namespace) -> tuple[dict[str, Any], int]:
    assembly = load_assembly(args.cdk_out)
    settings, overrides = settings_for(assembly.directory, parse_context(args.context))
    with tempfile.TemporaryDirectory(prefix="audit-compliance-") as scratch:
        compliance_run = (
            compliance.ComplianceRun(None, Path(scratch), error="skipped (--skip-compliance)")
            if args.skip_compliance
            else compliance.start_compliance_synth(Path(scratch) / "cdk.out", overrides)
        )
        data = _scan(assembly, settings, args, compliance_run)
    data["settings"] = {
        "stage": settings.stage,
        "region": settings.region,
        "cluster_mode": settings.cluster_mode,
        "context_overrides": overrides,
    }
    if args.base_cdk_out:
        data["changes"] = _changes(data, assembly, args)
    return data, (1 if data["blocking"] else 0)


def main(argv: list[str] | None = None) -> int:
    args = build_arguments().parse_args(argv)
    args.checkov = args.checkov.absolute()  # checkov runs from inside the cloud assembly
    try:
        data, status = audit(args)
    except (AssemblyError, ValueError) as error:  # SettingsError is a ValueError
        print(f"audit: {error}", file=sys.stderr)
        return 2
    args.report_dir.mkdir(parents=True, exist_ok=True)
    (args.report_dir / "audit.json").write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    (args.report_dir / "audit.md").write_text(render_markdown(data))
    for stack in data["stacks"]:
        print(f"{'stack':<24} {stack['name']}: {stack['resource_count']} resources")
    for check in data["checks"]:
        print(f"{check['result']:<24} {check['check']} (blocking: {check['blocking']})")
    print(f"report: {args.report_dir / 'audit.md'} and {args.report_dir / 'audit.json'}")
    if status:
        print(f"\naudit FAILED: {len(data['blocking'])} blocking finding(s):", file=sys.stderr)
        for item in data["blocking"]:
            print(
                f"  {item['tool']} {item['rule']} stack={item['stack']} path={item['path']}: {item['message']}",
                file=sys.stderr,
            )
    return status


if __name__ == "__main__":
    sys.exit(main())
