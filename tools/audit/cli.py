"""Audits a synthesised cloud assembly and writes reports/audit.md + reports/audit.json.

    .venv/bin/python -m tools.audit --cdk-out cdk.out --checkov .venv-checkov/bin/checkov --report-dir reports

Blocking (exit 1, each printed as tool, rule id, stack, construct path):
  * cdk-nag AwsSolutions + Serverless: already enforced by `cdk synth`; any violation left in cdk.out's
    validation-report.json is reported again here;
  * cfn-lint errors; checkov failed checks not skipped in template Metadata;
  * a scanner that cannot run, and an exception (acknowledgement / ignore / skip) recorded without a reason.
Informational: cdk-nag HIPAA Security + NIST 800-53 rev5 (a second, in-process synthesis in a child Python),
cfn-lint warnings, IAM, network exposure, encryption, cost and the architecture diagram.
Exit 2 when cdk.out is missing or the context is invalid. Never needs AWS credentials or network.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from stacks.compliance.acknowledgements import is_real_reason
from tools.audit import cdk_nag, cfn_lint, checkov, compliance, cost, diagram, encryption, iam, network
from tools.audit.assembly import AssemblyError, load_assembly
from tools.audit.findings import finding
from tools.audit.report import render_markdown
from tools.context import parse_context, settings_from

ROOT = Path(__file__).resolve().parents[2]


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
        help="the same -c context cdk.out was synthesised with (default: cdk.json's context)",
    )
    parser.add_argument(
        "--skip-compliance",
        action="store_true",
        help="do not run the informational HIPAA / NIST synthesis (the report says so)",
    )
    return parser


def audit(args: argparse.Namespace) -> tuple[dict[str, Any], int]:
    assembly = load_assembly(args.cdk_out)
    overrides = parse_context(args.context)
    settings = settings_from(overrides)
    manifest = json.loads((assembly.directory / "manifest.json").read_text())

    with tempfile.TemporaryDirectory(prefix="audit-compliance-") as scratch:
        compliance_run = (
            compliance.ComplianceRun(None, Path(scratch), error="skipped (--skip-compliance)")
            if args.skip_compliance
            else compliance.start_compliance_synth(Path(scratch) / "cdk.out", overrides)
        )
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
            iam_roles = iam.roles(assembly)
            exposure = network.exposure(assembly)
            stores = encryption.stores(assembly)
            costs = cost.estimate(assembly, settings, cost.load_prices(args.prices))
            mermaid = diagram.mermaid(assembly)
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
    data = {
        "cdk_out": str(args.cdk_out),
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
        "iam": iam_roles,
        "network": exposure,
        "encryption": stores,
        "cost": costs,
        "diagram": mermaid,
        "settings": {
            "stage": settings.stage,
            "region": settings.region,
            "cluster_mode": settings.cluster_mode,
            "context_overrides": overrides,
        },
    }
    return data, (1 if blocking else 0)


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
