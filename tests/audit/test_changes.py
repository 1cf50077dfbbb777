"""The change comes first, in the terminal and in the report: what CloudFormation does to each resource, the cost
beside the budget, each security area by name; then CDK's diff of each changed stack, the priced lines, the findings.

The base is the session's app (``lab``); the change is either made in code or settings and synthesised (one
property: the acceptance cases) or written into a copy of the templates (one kind of change per case).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tools.audit import changes
from tools.audit.assembly import load_assembly
from tools.audit.security_areas import AREAS

REPORT_HEAD = 30  # lines a reviewer sees before scrolling
TERMINAL_HEAD = 20  # lines of `make audit BASE=main` a reviewer sees before scrolling
# What `make audit BASE=main` prints before tools.audit starts: setup's three "is up to date" lines, the wheelhouse
# line, `make synth`'s summary line, the base's "exported with git archive" and its summary line.
MAKE_PREAMBLE = 7


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


def summary_of(terminal: str) -> list[str]:
    """The change summary's lines in tools.audit's output: from its heading to the last security area."""
    lines = terminal.splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith("audit: what changes against "))
    end = next(index for index, line in enumerate(lines) if line.strip().startswith(AREAS[-1]))
    return lines[start : end + 1]


def test_a_one_setting_change_is_summarised_within_the_first_twenty_lines_of_make_audit(
    lab, synth, audit_tools, capsys
) -> None:
    bigger = synth(workstation_instance_type="t4g.xlarge")

    _, data, markdown = audit_tools.run_stubbed(
        bigger.outdir, "--base-cdk-out", str(lab.outdir), "--base-label", "main"
    )

    terminal = capsys.readouterr().out
    summary = summary_of(terminal)
    assert terminal.splitlines().index(summary[-1]) < TERMINAL_HEAD - MAKE_PREAMBLE, terminal
    assert summary[0] == "audit: what changes against main"
    text = "\n".join(summary)
    # The instance is updated with a restart, not replaced (its type is create-only only for instance-store roots).
    assert "Compute           1 changed: Workstation/Instance (InstanceType: an update with a restart" in text
    assert "replaced" not in text.replace("not a replacement", "")
    assert "no change         Storage, Automation" in text
    # The typical month now exceeds the default budget, and says so beside the figures.
    typical, worst = data["changes"]["cost"]["months"]["typical"], data["changes"]["cost"]["months"]["worst"]
    assert typical[0] < 8 < typical[1]
    assert f"typical USD {typical[0]:.2f} → USD {typical[1]:.2f} ⚠️ over the USD 8.00 budget" in text
    assert f"worst case USD {worst[0]:,.2f} → USD {worst[1]:,.2f}" in text
    for area in AREAS:
        assert f"  {area:<17} unchanged" in summary
    # The report's first table says the same, row for row.
    for line in summary[1:]:
        label, value = line[2:19].strip(), line[20:]
        assert f"| **{label}** | {value.replace('*', chr(92) + '*')} |" in head(markdown), line


def test_a_changed_bucket_property_is_changed_in_place_and_shown_first(lab, versioned_logs_bucket, audit_tools) -> None:
    status, data, markdown = audit_tools.run_stubbed(
        versioned_logs_bucket, "--base-cdk-out", str(lab.outdir), "--base-label", "main"
    )

    assert status == 0
    first = head(markdown)
    assert "## What this change does, against `main`" in first
    assert "| **Storage** | 1 changed: Buckets/Logs (VersioningConfiguration) |" in first
    assert "[~] AWS::S3::Bucket Buckets/Logs BucketsLogs" in first and "VersioningConfiguration" in first, first
    assert {stack["stack"]: stack["status"] for stack in data["changes"]["stacks"]} == {
        "Storage": "changed",
        "Compute": "unchanged",
        "Automation": "unchanged",
    }
    assert data["changes"]["stacks"][0]["counts"] == {"changed": 1}
    # Nothing else moved: no cost, security or findings change; the full state follows, folded.
    assert data["changes"]["cost"]["lines"] == [] and data["changes"]["findings"]["rows"] == []
    assert data["changes"]["security"] == {area: [] for area in AREAS}
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


# id -> (stack, how the template changes, what CloudFormation does to the stack's resources, the security areas that
# change, what the first lines of the report must show)
KINDS_OF_CHANGE: dict[str, tuple[str, Edit, dict[str, int], set[str], str]] = {
    # BucketName is create-only; the bucket policy's Bucket is too and refers to it; the logs bucket's policy and
    # the auto-delete custom resource name it (updated); Automation imports its ARN (the deployment is blocked).
    "replaced": (
        "Storage",
        _replace_bucket,
        {"replaced": 2, "changed": 2},
        set(),
        "Buckets/Results (BucketName is create-only)",
    ),
    "retained": ("Storage", _retain_bucket, {"changed": 1}, set(), "DeletionPolicy"),
    "property-removed": ("Storage", _drop_lifecycle, {"changed": 1}, set(), "[-] LifecycleConfiguration"),
    "added": ("Storage", _add_bucket, {"added": 1}, {"encryption", "network exposure"}, "[+] AWS::S3::Bucket Scratch"),
    "ssh-opened": ("Compute", _open_ssh, {"changed": 1}, {"network exposure"}, "⚠️ from the internet"),
    "iam-widened": ("Automation", _widen_a_role, {"changed": 1}, {"IAM"}, "⚠️ action s3:\\*, resource \\*"),
}


@pytest.mark.parametrize(
    ("stack_id", "edit", "counts", "areas", "shown"), KINDS_OF_CHANGE.values(), ids=KINDS_OF_CHANGE.keys()
)
def test_each_kind_of_change_is_named_within_the_first_lines(
    lab, audit_tools, tmp_path: Path, stack_id: str, edit: Edit, counts: dict[str, int], areas: set[str], shown: str
) -> None:
    changed = copy_assembly(lab.outdir, tmp_path / "changed")
    edit_template(changed, stack_id, edit)

    _, data, markdown = audit_tools.run_stubbed(changed, "--base-cdk-out", str(lab.outdir), "--base-label", "main")

    (entry,) = [stack for stack in data["changes"]["stacks"] if stack["status"] != "unchanged"]
    assert (entry["stack"], entry["counts"]) == (stack_id, counts)
    assert {area for area, found in data["changes"]["security"].items() if found} == areas
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
    assert f"worst case USD {before:,.2f} → USD {after:,.2f}" in head(markdown)
    assert data["changes"]["security"]["audit exceptions"] == [
        "+ checkov CKV_AWS_999 on Compute/Workstation/Instance: 'a reason a reviewer would read and accept'"
    ]
    assert "| **audit exceptions** | changed: + checkov CKV\\_AWS\\_999 on Compute/Workstation/Instance" in head(
        markdown
    )
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
    assert "no change: every stack would deploy exactly as the base does" in head(markdown)


def test_a_missing_base_is_reported_not_fatal(lab, audit_tools, tmp_path: Path) -> None:
    status, data, markdown = audit_tools.run_stubbed(lab.outdir, "--base-cdk-out", str(tmp_path / "nothing"))

    assert status == 0 and "no base to compare with" in data["changes"]["error"]
    assert "no base to compare with" in head(markdown)


def test_each_step_is_one_line_naming_what_runs_and_how_long_it_took(lab, audit_tools, tmp_path: Path, capsys) -> None:
    changed = copy_assembly(lab.outdir, tmp_path / "changed")
    edit_template(changed, "Storage", _retain_bucket)

    audit_tools.run_stubbed(changed, "--base-cdk-out", str(lab.outdir), "--base-label", "main")

    steps = [line for line in capsys.readouterr().out.splitlines() if line.startswith("audit: ") and " ... " in line]
    names = [line.split(" ... ")[0].removeprefix("audit: ") for line in steps]
    assert names == [
        "cfn-lint (Storage, Compute, Automation)",
        "checkov (Storage, Compute, Automation)",
        "cdk-nag HIPAA Security + NIST 800-53 rev5 (informational)",
        "cdk diff (Storage)",
        "cfn-lint (Storage)",  # the base's changed stack only: an unchanged one's findings are the change's
        "checkov (Storage)",
    ]
    for line in steps:
        assert re.search(r" \.\.\. .+ \(\d+\.\d s\)$", line), line
