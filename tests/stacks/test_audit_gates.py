"""cdk-nag blocks synth on any unacknowledged finding; cfn-lint finds no error in any template."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk import App
from aws_cdk import aws_s3 as s3


def test_app_synthesises_with_nag_and_no_unacknowledged_finding(lab) -> None:
    report = json.loads((lab.outdir / "validation-report.json").read_text())
    assert report["pluginReports"] == []


def test_an_injected_violation_fails_synth_naming_the_finding(tmp_path: Path, cdk_context) -> None:
    from stacks.app_builder import build_app
    from stacks.settings import Settings

    app = App(context=cdk_context, outdir=str(tmp_path))
    stacks = build_app(app, Settings())
    s3.Bucket(stacks.storage, "ForgottenBucket")  # no TLS policy, no access logs
    with pytest.raises(RuntimeError, match="ValidationFailed") as failure:
        app.synth()
    message = str(failure.value)
    assert "Storage/ForgottenBucket/Resource" in message
    assert "AwsSolutions-S10" in message and "AwsSolutions-S1'" in message


def test_acknowledgements_are_written_into_the_template_with_reasons(lab) -> None:
    acknowledged = [
        rule
        for template in lab.templates.values()
        for resource in template["Resources"].values()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]
    assert acknowledged, "expected at least the logs bucket's S1 acknowledgement"
    for rule in acknowledged:
        assert rule["id"] and len(rule["reason"].split()) >= 6, rule


@pytest.fixture(params=["public", "isolated"])
def each_network_mode(request, synth):
    """The app in each network mode (public is the default ``lab``): both must pass every audit."""
    return synth(network_mode=request.param)


def test_isolated_app_synthesises_with_nag_and_no_unacknowledged_finding(synth) -> None:
    report = json.loads((synth(network_mode="isolated").outdir / "validation-report.json").read_text())
    assert report["pluginReports"] == []


def test_cfn_lint_reports_no_error_or_warning(each_network_mode, tmp_path: Path) -> None:
    paths = []
    for name, template in each_network_mode.templates.items():
        path = tmp_path / f"{name}.template.json"
        path.write_text(json.dumps(template))
        paths.append(str(path))
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("cfn-lint")),
            "--regions",
            "eu-west-2",
            "--format",
            "parseable",
            "--",
            *paths,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


CHECKOV = Path(__file__).resolve().parents[2] / ".venv-checkov" / "bin" / "checkov"


def test_checkov_reports_no_failed_check_and_every_skip_has_a_reason(each_network_mode, tmp_path: Path) -> None:
    for name, template in each_network_mode.templates.items():
        (tmp_path / f"{name}.template.json").write_text(json.dumps(template))
    result = subprocess.run(
        [str(CHECKOV), "-d", str(tmp_path), "--framework", "cloudformation", "--output", "json"],
        capture_output=True,
        text=True,
        check=False,  # checkov exits 1 on failed checks; the report says which
    )
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [(c["check_id"], c["resource"]) for r in reports for c in r["results"].get("failed_checks", [])]
    assert failed == []
    skipped = [c for r in reports for c in r["results"].get("skipped_checks", [])]
    assert skipped, "expected the documented skips"
    for check in skipped:
        assert len(check["check_result"].get("suppress_comment", "").split()) >= 6, check["check_id"]
