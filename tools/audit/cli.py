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
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stacks.compliance.acknowledgements import is_real_reason
from stacks.settings import Settings
from tools.audit import (
    cdk_nag,
    cfn_lint,
    change_summary,
    changes,
    checkov,
    compliance,
    cost,
    diagram,
    encryption,
    iam,
    network,
    security_areas,
)
from tools.audit.assembly import AssemblyError, CloudAssembly, load_assembly
from tools.audit.findings import finding
from tools.audit.network_diagram import network_mermaid
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


class Progress:
    """One line per step on stdout: its name as it starts (flushed, so a terminal shows what is running) and its
    outcome with the seconds it took as it ends."""

    @contextmanager
    def step(self, name: str) -> Iterator[dict[str, str]]:
        print(f"audit: {name} ...", end=" ", flush=True)
        outcome = {"result": "done"}
        started = time.monotonic()
        try:
            yield outcome
        except BaseException:
            print(f"failed ({time.monotonic() - started:.1f} s)", flush=True)
            raise
        print(f"{outcome['result']} ({time.monotonic() - started:.1f} s)", flush=True)


def analyse(assembly: CloudAssembly, settings: Settings, prices: Path) -> dict[str, Any]:
    """What the templates say, read without running a scanner: stacks, exceptions, IAM, network, encryption, cost."""
    return {
        "cdk_out": str(assembly.directory),
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
        "acknowledged": {
            "cdk-nag": cdk_nag.nag_acknowledgements(assembly),
            "cfn-lint": cfn_lint.cfn_lint_exceptions(assembly),
            "checkov": checkov.checkov_skips(assembly),
        },
        "iam": iam.roles(assembly),
        "resource_policies": iam.resource_policies(assembly),
        "network": network.exposure(assembly),
        "encryption": encryption.stores(assembly),
        "cost": cost.estimate(assembly, settings, cost.load_prices(prices)),
        "diagram": diagram.mermaid(assembly),
        "network_diagram": network_mermaid({settings.network_mode: assembly}),
    }


def scan(assembly: CloudAssembly, region: str, args: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    """The scanners over an assembly's templates: cfn-lint, checkov and the synth gate's validation report."""
    manifest = json.loads((assembly.directory / "manifest.json").read_text())
    names = ", ".join(stack.artifact_id for stack in assembly.stacks)
    with progress.step(f"cfn-lint ({names})") as step:
        lint, lint_error = cfn_lint.run_cfn_lint(
            assembly, args.cfn_lint, cfn_lint.regions_of(assembly.stacks, manifest, region)
        )
        errors = sum(1 for item in lint if item["blocking"])
        step["result"] = lint_error or f"{errors} error(s), {len(lint) - errors} warning(s)"
    with progress.step(f"checkov ({names})") as step:
        failed, summary, checkov_error = checkov.run_checkov(assembly, args.checkov)
        step["result"] = checkov_error or f"{summary.get('passed', 0)} passed, {len(failed)} failed"
    return {
        "lint": lint,
        "lint_error": lint_error,
        "checkov_failed": failed,
        "checkov_summary": summary,
        "checkov_error": checkov_error,
        "gate": cdk_nag.nag_gate_findings(assembly),
    }


def judge(data: dict[str, Any], scanned: dict[str, Any], compliance_result: dict[str, Any]) -> None:
    """Adds the verdict to an assembly's data: blocking findings, the checks table, the informational findings."""
    summary = scanned["checkov_summary"]
    if summary and not scanned["checkov_error"]:
        honoured = {(item["rule"], item["resource"]) for item in summary.get("honoured_skips", [])}
        for skip in data["acknowledged"]["checkov"]:
            skip["honoured"] = (skip["rule"], skip["resource"]) in honoured
    tool_errors = [
        finding(tool, "TOOL-ERROR", "*", "", "*", error, blocking=True)
        for tool, error in (("cfn-lint", scanned["lint_error"]), ("checkov", scanned["checkov_error"]))
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
        for items in data["acknowledged"].values()
        for item in items
        if not is_real_reason(item.get("reason"))
    ]
    lint_errors = [f for f in scanned["lint"] if f["blocking"]]
    blocking = scanned["gate"] + lint_errors + scanned["checkov_failed"] + tool_errors + missing_reasons
    data.update(
        result="fail" if blocking else "pass",
        checks=_checks(scanned, lint_errors, missing_reasons, compliance_result),
        blocking=blocking,
        informational={"compliance": compliance_result, "cfn_lint": [f for f in scanned["lint"] if not f["blocking"]]},
        checkov=summary,
    )


def _checks(
    scanned: dict[str, Any],
    lint_errors: list[dict[str, Any]],
    missing: list[dict[str, Any]],
    compliance_result: dict[str, Any],
) -> list[dict[str, str]]:
    def verdict(failures: list[Any], error: str | None = None) -> str:
        return f"❌ {error}" if error else (f"❌ {len(failures)} finding(s)" if failures else "✅ pass")

    compliance_total = sum(rule["count"] for rules in compliance_result["packs"].values() for rule in rules.values())
    warnings = len(scanned["lint"]) - len(lint_errors)
    return [
        {
            "check": "cdk-nag AwsSolutions + Serverless (synth gate)",
            "blocking": "yes",
            "result": verdict(scanned["gate"]),
        },
        {"check": "cfn-lint errors", "blocking": "yes", "result": verdict(lint_errors, scanned["lint_error"])},
        {
            "check": "checkov (cloudformation)",
            "blocking": "yes",
            "result": verdict(scanned["checkov_failed"], scanned["checkov_error"]),
        },
        {"check": "every exception has a reason", "blocking": "yes", "result": verdict(missing)},
        {
            "check": "cdk-nag HIPAA Security + NIST 800-53 rev5",
            "blocking": "no (informational)",
            "result": f"{compliance_total} finding(s)"
            if compliance_result["ran"]
            else f"not run: {compliance_result['error']}",
        },
        {"check": "cfn-lint warnings", "blocking": "no", "result": f"{warnings} warning(s)"},
    ]


@dataclass
class Base:
    """The assembly a change is compared with, read and analysed the same way."""

    label: str
    assembly: CloudAssembly
    settings: Settings
    data: dict[str, Any]


def first_look(
    data: dict[str, Any], assembly: CloudAssembly, settings: Settings, args: argparse.Namespace
) -> tuple[dict[str, Any], Base | None]:
    """The change against the base from the templates alone (no scanner, no CLI): which resources each stack adds,
    changes, replaces or removes, the month's cost before and after, and each security area."""
    label = args.base_label or str(args.base_cdk_out)
    try:
        assembly_before = load_assembly(args.base_cdk_out)
        settings_before, _ = settings_for(assembly_before.directory, {})
    except (AssemblyError, ValueError) as error:
        return {"base": label, "error": f"no base to compare with: {error}"}, None
    base = Base(label, assembly_before, settings_before, analyse(assembly_before, settings_before, args.prices))
    change = {
        "base": label,
        "base_cdk_out": str(args.base_cdk_out),
        "stacks": changes.template_changes(assembly, assembly_before, settings.region),
        "cost": changes.cost_change(data["cost"], base.data["cost"]),
        "security": security_areas.compare(data, base.data),
    }
    return change, base


def finish_changes(
    change: dict[str, Any],
    base: Base,
    data: dict[str, Any],
    scanned: dict[str, Any],
    args: argparse.Namespace,
    progress: Progress,
) -> None:
    """CDK's diff of each changed stack, and the change in findings: the base's changed stacks scanned the same way
    (an unchanged stack's findings are the change's own)."""
    assembly = load_assembly(args.cdk_out)
    touched = [entry["stack"] for entry in change["stacks"] if entry["status"] in ("added", "changed")]
    if touched:
        with progress.step(f"cdk diff ({', '.join(touched)})") as step:
            try:
                changes.add_cdk_diffs(change["stacks"], assembly, base.assembly)
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
                change["diff_error"] = f"cdk diff could not run: {error}"
                step["result"] = "failed: the report says why"
    same = {entry["stack_name"] for entry in change["stacks"] if entry["status"] == "unchanged"}
    differing = [stack for stack in base.assembly.stacks if stack.stack_name not in same]
    own = {key: [item for item in scanned[key] if item["stack"] in same] for key in ("lint", "checkov_failed")}
    theirs: dict[str, Any] = {
        "lint": [],
        "checkov_failed": [],
        "lint_error": None,
        "checkov_error": None,
        "checkov_summary": {},
    }
    if differing:
        theirs = scan(CloudAssembly(base.assembly.directory, differing), base.settings.region, args, progress)
    base_scan = {
        **theirs,
        "lint": theirs["lint"] + own["lint"],
        "checkov_failed": theirs["checkov_failed"] + own["checkov_failed"],
        "gate": cdk_nag.nag_gate_findings(base.assembly),
    }
    judge(base.data, base_scan, compliance.finish_compliance_synth(_NOT_RUN, base.assembly))
    change["findings"] = changes.findings_change(data, base.data)


_NOT_RUN = compliance.ComplianceRun(None, Path(), error="not run for the base")


def audit(args: argparse.Namespace, progress: Progress) -> tuple[dict[str, Any], int]:
    assembly = load_assembly(args.cdk_out)
    settings, overrides = settings_for(assembly.directory, parse_context(args.context))
    data = analyse(assembly, settings, args.prices)
    with tempfile.TemporaryDirectory(prefix="audit-compliance-") as scratch:
        # The informational packs synthesise the app again: started first, it runs while everything else does.
        compliance_run = (
            compliance.ComplianceRun(None, Path(scratch), error="skipped (--skip-compliance)")
            if args.skip_compliance
            else compliance.start_compliance_synth(Path(scratch) / "cdk.out", overrides)
        )
        change, base = first_look(data, assembly, settings, args) if args.base_cdk_out else (None, None)
        if change is not None:
            print("\n".join(change_summary.terminal_lines(change)), flush=True)
        try:
            scanned = scan(assembly, settings.region, args, progress)
        finally:
            with progress.step("cdk-nag HIPAA Security + NIST 800-53 rev5 (informational)") as step:
                compliance_result = compliance.finish_compliance_synth(compliance_run, assembly)
                step["result"] = (
                    "ran" if compliance_result["ran"] else f"not run: {(compliance_result['error'] or '')[:80]}"
                )
    judge(data, scanned, compliance_result)
    data["settings"] = {
        "stage": settings.stage,
        "region": settings.region,
        "cluster_mode": settings.cluster_mode,
        "context_overrides": overrides,
    }
    if change is not None:
        if base is not None:
            finish_changes(change, base, data, scanned, args, progress)
        data["changes"] = change
    return data, (1 if data["blocking"] else 0)


def main(argv: list[str] | None = None) -> int:
    args = build_arguments().parse_args(argv)
    args.checkov = args.checkov.absolute()  # checkov runs from inside the cloud assembly
    try:
        data, status = audit(args, Progress())
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
