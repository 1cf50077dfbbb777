"""tools.audit: the report on the real app, an injected violation, and the analysers on a hand-written template.

Only ``test_report_on_the_real_app`` runs the real checkov (and the informational HIPAA / NIST synthesis);
the others use a stub checkov so the suite stays fast.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
from aws_cdk import App
from aws_cdk import aws_s3 as s3

from tools.audit import cli as audit

ROOT = Path(__file__).resolve().parents[2]
REAL_CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


def test_report_on_the_real_app(lab, audit_tools) -> None:
    if not REAL_CHECKOV.exists():
        pytest.fail("checkov is not installed: run `make .venv-checkov/.installed` (make test does)")
    status, data, markdown = audit_tools.run(lab.outdir, REAL_CHECKOV)

    # Resources by type per stack equal a direct count of the synthesised templates.
    reported = {stack["name"]: stack["resources_by_type"] for stack in data["stacks"]}
    direct = {
        name: dict(Counter(resource["Type"] for resource in template["Resources"].values()))
        for name, template in lab.templates.items()
    }
    assert reported == direct
    # The exit status is the verdict, and every blocking finding names tool, rule, stack and construct path.
    assert status == (1 if data["blocking"] else 0)
    assert data["result"] == ("fail" if data["blocking"] else "pass")
    for item in data["blocking"]:
        assert item["tool"] and item["rule"] and item["stack"] and item["path"], item
    # checkov really ran over every resource, and only over the templates.
    assert data["checkov"]["passed"] + data["checkov"]["failed"] > 0
    assert data["checkov"]["parsing_errors"] == 0
    # Every checkov skip written in template Metadata is one checkov itself honoured (a wrong id would not be).
    assert all(skip["honoured"] for skip in data["acknowledged"]["checkov"]), data["acknowledged"]["checkov"]
    # Every acknowledgement in the templates is listed with its reason.
    in_templates = sum(
        len(resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []))
        for template in lab.templates.values()
        for resource in template["Resources"].values()
    )
    assert len(data["acknowledged"]["cdk-nag"]) == in_templates
    assert all(item["reason"] for items in data["acknowledged"].values() for item in items)
    # The informational packs ran on the same app (the second synthesis matches cdk.out) and never block.
    compliance = data["informational"]["compliance"]
    assert compliance["ran"], compliance["error"]
    assert compliance["templates_match_cdk_out"] is True
    assert set(compliance["packs"]) == {"HIPAA.Security", "NIST.800.53.R5"}
    assert not any(item["rule"].startswith(("HIPAA", "NIST")) for item in data["blocking"])
    # IAM: every role of every stack is described.
    roles = sum(1 for t in lab.templates.values() for r in t["Resources"].values() if r["Type"] == "AWS::IAM::Role")
    assert len(data["iam"]) == roles
    # Cost: the default EMR cluster is priced from settings, and the worst case is explained.
    assert any("EMR" in item["what"] and item["hourly"] > 0 for item in data["cost"]["items"])
    assert not data["cost"]["unknown_prices"]
    # The Markdown renders the same data, with a Mermaid diagram.
    assert "```mermaid\nflowchart LR" in markdown
    for stack in data["stacks"]:
        assert f"`{stack['name']}`" in markdown


def test_an_injected_public_bucket_fails_the_audit_naming_rule_and_path(
    tmp_path: Path, cdk_context, audit_tools
) -> None:
    from stacks.app_builder import build_app
    from stacks.settings import Settings

    outdir = tmp_path / "cdk.out"
    app = App(context=cdk_context, outdir=str(outdir))
    stacks = build_app(app, Settings.from_context(app.node.try_get_context))
    s3.Bucket(
        stacks.storage,
        "Public",
        public_read_access=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ACLS_ONLY,
        enforce_ssl=True,
    )
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()  # the synth gate already refuses it; the assembly is still written, as by `cdk synth`

    status, data, markdown = audit_tools.run(outdir, audit_tools.stub_checkov(), "--skip-compliance")

    assert status == 1 and data["result"] == "fail"
    named = {(item["rule"], item["path"]) for item in data["blocking"]}
    assert ("AwsSolutions-S2", "Storage/Public/Resource") in named, named
    assert "AwsSolutions-S2" in markdown and "Storage/Public/Resource" in markdown
    # The exposure section shows it too, and the report says the informational packs were not run.
    assert any(item["path"] == "Storage/Public/Resource" for item in data["network"]["public"])
    assert data["informational"]["compliance"]["ran"] is False


def test_checkov_failures_block_and_skips_in_metadata_are_listed(lab, tmp_path: Path, audit_tools) -> None:
    cdk_out = tmp_path / "cdk.out"
    shutil.copytree(lab.outdir, cdk_out, ignore=shutil.ignore_patterns("asset.*"))
    stack = next(iter(lab.templates))
    template_file = next(
        path
        for path in cdk_out.glob("*.template.json")
        if json.loads((cdk_out / "manifest.json").read_text())["artifacts"][path.name.removesuffix(".template.json")][
            "properties"
        ].get("stackName")
        == stack
    )
    template = json.loads(template_file.read_text())
    bucket_id = next(k for k, r in template["Resources"].items() if r["Type"] == "AWS::S3::Bucket")
    metadata = template["Resources"][bucket_id].setdefault("Metadata", {})
    metadata["checkov"] = {
        "skip": [{"id": "CKV_AWS_21", "comment": "Versioning is off on purpose: see the design notes"}]
    }
    template_file.write_text(json.dumps(template))
    failed = [
        {
            "check_id": "CKV_AWS_999",
            "check_name": "Invented check",
            "file_path": f"/{template_file.name}",
            "resource": f"AWS::S3::Bucket.{bucket_id}",
        }
    ]

    status, data, _ = audit_tools.run(
        cdk_out, audit_tools.stub_checkov(failed), "--skip-compliance", "--cfn-lint", str(audit_tools.stub_cfn_lint())
    )

    assert status == 1
    assert [(f["tool"], f["rule"], f["stack"], f["resource"]) for f in data["blocking"]] == [
        ("checkov", "CKV_AWS_999", stack, bucket_id)
    ]
    listed = [entry for entry in data["acknowledged"]["checkov"] if entry["resource"] == bucket_id]
    assert [{k: entry[k] for k in ("rule", "stack", "reason")} for entry in listed] == [
        {"rule": "CKV_AWS_21", "stack": stack, "reason": "Versioning is off on purpose: see the design notes"}
    ]


def test_a_missing_checkov_is_a_blocking_tool_error(lab, tmp_path: Path, audit_tools) -> None:
    status, data, _ = audit_tools.run(
        lab.outdir, tmp_path / "no-checkov", "--skip-compliance", "--cfn-lint", str(audit_tools.stub_cfn_lint())
    )
    assert status == 1
    assert any(f["tool"] == "checkov" and f["rule"] == "TOOL-ERROR" for f in data["blocking"])


def test_a_missing_cloud_assembly_exits_2(tmp_path: Path) -> None:
    assert audit.main(["--cdk-out", str(tmp_path / "nothing"), "--report-dir", str(tmp_path)]) == 2
