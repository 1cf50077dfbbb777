"""The report leads with the change: CDK's own diff of each stack against the base, then cost and findings.

The base is the session's app (``lab``); the change is either made in code and synthesised (the acceptance
case: one bucket property) or written into a copy of the templates (one kind of change per case).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tools.audit import changes
from tools.audit.assembly import load_assembly

REPORT_HEAD = 30  # lines a reviewer sees before scrolling


def copy_assembly(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("asset.*", "lambda-sources", "cdk.out"))
    return target


Edit = Callable[[dict[str, Any], Callable[[str], dict[str, Any]]], None]


def edit_template(assembly: Path, stack_id: str, edit: Edit) -> None:
    """``edit(template, at)`` rewrites a stack's template; ``at(construct path)`` finds a resource in it."""
    stack = load_assembly(assembly).stack(stack_id)
    by_path = {stack.path_of(logical_id): resource for logical_id, resource in stack.resources.items()}
    edit(stack.template, by_path.__getitem__)
    stack.template_file.write_text(json.dumps(stack.template, indent=1))


def head(markdown: str) -> str:
    return "\n".join(markdown.splitlines()[:REPORT_HEAD])


@pytest.fixture(scope="module")
def versioned_logs_bucket(tmp_path_factory: pytest.TempPathFactory, cdk_context: dict[str, Any]) -> Path:
    """The app with one bucket property changed in its code, as a pull request would change it."""
    from aws_cdk import App
    from aws_cdk import aws_s3 as s3

    from stacks.app_builder import build_app
    from stacks.settings import Settings

    outdir = tmp_path_factory.mktemp("changed") / "cdk.out"
    app = App(context=cdk_context, outdir=str(outdir))
    stacks = build_app(app, Settings.from_context(app.node.try_get_context))
    logs = next(
        c
        for c in stacks.storage.node.find_all()
        if isinstance(c, s3.CfnBucket) and c.node.path.endswith("/Logs/Resource")
    )
    logs.versioning_configuration = s3.CfnBucket.VersioningConfigurationProperty(status="Enabled")
    app.synth()
    return outdir


def test_a_changed_bucket_property_is_what_the_report_shows_first(lab, versioned_logs_bucket, audit_tools) -> None:
    status, data, markdown = audit_tools.run_stubbed(
        versioned_logs_bucket, "--base-cdk-out", str(lab.outdir), "--base-label", "main"
    )

    assert status == 0
    first = head(markdown)
    assert "## What this change does, against `main`" in first
    assert "[~] AWS::S3::Bucket Buckets/Logs" in first and "VersioningConfiguration" in first, first
    assert {stack["stack"]: stack["status"] for stack in data["changes"]["stacks"]} == {
        "Storage": "changed",
        "Compute": "unchanged",
        "Automation": "unchanged",
    }
    assert data["changes"]["stacks"][0]["summary"] == "1 resource: 1 modified"
    # Nothing else moved: no cost or findings change; the full state follows, folded.
    assert data["changes"]["cost"]["lines"] == [] and data["changes"]["findings"]["rows"] == []
    folded = markdown[markdown.index("<details>") :]
    assert markdown.index("<details>") > markdown.index("VersioningConfiguration")
    for section in ("## Stacks and resources", "## IAM: what each role may do", "## Architecture"):
        assert section in folded


def _replace_bucket(_: dict[str, Any], at: Callable[[str], dict[str, Any]]) -> None:
    at("Storage/Buckets/Results/Resource")["Properties"]["BucketName"] = "renamed-results"


def _retain_bucket(_: dict[str, Any], at: Callable[[str], dict[str, Any]]) -> None:
    bucket = at("Storage/Buckets/Ratings/Resource")
    bucket["DeletionPolicy"] = bucket["UpdateReplacePolicy"] = "Retain"


def _drop_lifecycle(_: dict[str, Any], at: Callable[[str], dict[str, Any]]) -> None:
    del at("Storage/Buckets/Results/Resource")["Properties"]["LifecycleConfiguration"]


def _add_bucket(template: dict[str, Any], _: Callable[[str], dict[str, Any]]) -> None:
    template["Resources"]["Scratch"] = {
        "Type": "AWS::S3::Bucket",
        "Metadata": {"aws:cdk:path": "Storage/Scratch/Resource"},
        "Properties": {"VersioningConfiguration": {"Status": "Enabled"}},
    }


def _open_ssh(_: dict[str, Any], at: Callable[[str], dict[str, Any]]) -> None:
    group = at("Compute/Workstation/SecurityGroup/Resource")
    group["Properties"]["SecurityGroupIngress"] = [
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "0.0.0.0/0", "Description": "ssh"}
    ]


def _widen_a_role(_: dict[str, Any], at: Callable[[str], dict[str, Any]]) -> None:
    policy = at("Automation/Jobs/EmrEvents/ServiceRole/DefaultPolicy/Resource")
    policy["Properties"]["PolicyDocument"]["Statement"].append({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})


# id -> (stack, how the template changes, CDK's summary of it, what the first lines of the report must show)
KINDS_OF_CHANGE: dict[str, tuple[str, Edit, str, str]] = {
    # the bucket policy names the bucket, so CDK replaces it too
    "replaced": (
        "Storage",
        _replace_bucket,
        "2 resources: 2 modified (⚠️ 2 replaced)",
        "BucketName (requires replacement)",
    ),
    "retained": ("Storage", _retain_bucket, "1 resource: 1 modified", "DeletionPolicy"),
    "property-removed": ("Storage", _drop_lifecycle, "1 resource: 1 modified", "[-] LifecycleConfiguration"),
    "added": ("Storage", _add_bucket, "1 resource: 1 added", "[+] AWS::S3::Bucket Scratch"),
    "ssh-opened": ("Compute", _open_ssh, "1 resource: 1 modified; security group changes", "0.0.0.0/0"),
    "iam-widened": ("Automation", _widen_a_role, "1 resource: 1 modified; IAM statement changes", "s3:*"),
}


@pytest.mark.parametrize(("stack_id", "edit", "summary", "shown"), KINDS_OF_CHANGE.values(), ids=KINDS_OF_CHANGE.keys())
def test_each_kind_of_change_is_named_within_the_first_lines(
    lab, audit_tools, tmp_path: Path, stack_id: str, edit: Edit, summary: str, shown: str
) -> None:
    changed = copy_assembly(lab.outdir, tmp_path / "changed")
    edit_template(changed, stack_id, edit)

    _, data, markdown = audit_tools.run_stubbed(changed, "--base-cdk-out", str(lab.outdir), "--base-label", "main")

    (entry,) = [stack for stack in data["changes"]["stacks"] if stack["status"] != "unchanged"]
    assert (entry["stack"], entry["summary"]) == (stack_id, summary)
    assert shown in head(markdown), head(markdown)


def test_cost_and_exceptions_that_change_are_listed(lab, audit_tools, tmp_path: Path) -> None:
    changed = copy_assembly(lab.outdir, tmp_path / "changed")

    def bigger_workstation_with_an_exception(_: dict[str, Any], at: Callable[[str], dict[str, Any]]) -> None:
        instance = at("Compute/Workstation/Instance/Resource")
        instance["Properties"]["InstanceType"] = "t4g.xlarge"
        instance.setdefault("Metadata", {})["checkov"] = {
            "skip": [{"id": "CKV_AWS_999", "comment": "a reason a reviewer would read and accept"}]
        }

    edit_template(changed, "Compute", bigger_workstation_with_an_exception)

    _, data, markdown = audit_tools.run_stubbed(changed, "--base-cdk-out", str(lab.outdir), "--base-label", "main")

    cost = data["changes"]["cost"]
    (line,) = cost["lines"]
    assert line["what"] == ["EC2 instance t4g.large (workstation)", "EC2 instance t4g.xlarge (workstation)"]
    assert line["usd"][0] < line["usd"][1]
    before, after = cost["months"]["worst"]
    assert after > before
    assert f"worst USD {before:,.2f} → USD {after:,.2f} (+USD {after - before:,.2f})" in markdown
    counts = data["changes"]["findings"]["counts"]["exceptions"]
    assert f"exceptions {counts[0]} → {counts[1]} (+1)" in markdown
    (row,) = data["changes"]["findings"]["rows"]
    assert (row["change"], row["kind"], row["tool"], row["rule"], row["detail"]) == (
        "added",
        "exception",
        "checkov",
        "CKV_AWS_999",
        "a reason a reviewer would read and accept",
    )
    assert "`CKV_AWS_999`" in markdown.split("<details>")[0]


def test_added_and_removed_stacks_are_named(lab, audit_tools, tmp_path: Path) -> None:
    base = copy_assembly(lab.outdir, tmp_path / "base")
    manifest = json.loads((base / "manifest.json").read_text())
    del manifest["artifacts"]["Automation"]
    (base / "manifest.json").write_text(json.dumps(manifest))
    (base / "Automation.template.json").unlink()

    _, grown, markdown = audit_tools.run_stubbed(lab.outdir, "--base-cdk-out", str(base))
    _, shrunk, _ = audit_tools.run_stubbed(base, "--base-cdk-out", str(lab.outdir))

    added = next(stack for stack in grown["changes"]["stacks"] if stack["stack"] == "Automation")
    assert added["status"] == "added" and added["summary"].startswith("new stack: ")
    assert "[+] AWS::Lambda::Function" in added["diff"] and "IAM Statement Changes" in added["diff"]
    assert "### `Automation`" in head(markdown)
    removed = next(stack for stack in shrunk["changes"]["stacks"] if stack["stack"] == "Automation")
    assert removed["status"] == "removed" and "stack removed" in removed["summary"]


def test_identical_assemblies_say_so_without_running_cdk_diff(lab, audit_tools, monkeypatch) -> None:
    def no_cli(*_: Any) -> str:
        raise AssertionError("cdk diff ran on identical templates")

    monkeypatch.setattr(changes, "cdk_diff", no_cli)
    _, data, markdown = audit_tools.run_stubbed(lab.outdir, "--base-cdk-out", str(lab.outdir), "--base-label", "main")

    assert {stack["status"] for stack in data["changes"]["stacks"]} == {"unchanged"}
    assert "No template changes" in head(markdown)


def test_a_missing_base_is_reported_not_fatal(lab, audit_tools, tmp_path: Path) -> None:
    status, data, markdown = audit_tools.run_stubbed(lab.outdir, "--base-cdk-out", str(tmp_path / "nothing"))

    assert status == 0 and "no base to compare with" in data["changes"]["error"]
    assert "no base to compare with" in head(markdown)
