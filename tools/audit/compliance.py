"""The informational HIPAA Security and NIST 800-53 rev5 packs: a second synthesis in a child Python
(``tools.audit.compliance_synth``), started early and collected after the other scanners."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.audit.assembly import CloudAssembly
from tools.audit.cdk_nag import INFORMATIONAL_NAG_PACKS, parse_validation_report
from tools.snapshots.normalisation import normalise_template

ROOT = Path(__file__).resolve().parents[2]


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
    command = [
        sys.executable,
        "-m",
        "tools.audit.compliance_synth",
        "--outdir",
        str(outdir),
        "--context-json",
        json.dumps(context_overrides),
    ]
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{env['PYTHONPATH']}" if env.get("PYTHONPATH") else str(ROOT)
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return ComplianceRun(process, outdir)


def finish_compliance_synth(run: ComplianceRun, assembly: CloudAssembly) -> dict[str, Any]:
    """Findings per pack and rule (informational), and whether the re-synthesised templates match cdk.out."""
    result: dict[str, Any] = {
        "ran": False,
        "packs": {},
        "findings": [],
        "templates_match_cdk_out": None,
        "error": run.error,
    }
    if run.process is None:
        return result
    output, _ = run.process.communicate()
    if run.process.returncode != 0:
        result["error"] = f"compliance synthesis failed (exit {run.process.returncode}): {output[-2000:]}"
        return result
    result["ran"] = True
    violations = [
        item
        for item in parse_validation_report(assembly, run.outdir / "validation-report.json")
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
