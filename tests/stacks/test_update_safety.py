"""Routine changes deploy as updates (issue 21, defect 1 and its class): each input users change routinely is
changed alone, and the change between the two synthesised assemblies, as CloudFormation would apply it (create-only
properties from the resource schemas, tools/audit/replacement.py), must neither change an export another stack
imports (CloudFormation refuses: "Fn::ImportValue", CloudFormation Template Reference) nor replace anything that
holds data. A newer workstation image is a new entry in cdk.context.json (`make refresh-image`).
"""

from __future__ import annotations

from typing import Any

import pytest

from stacks.settings import WORKSTATION_IMAGE_CONTEXT_KEY
from tools.audit.assembly import load_assembly
from tools.audit.replacement import MAY_BE_REPLACED, REMOVED, REPLACED, assembly_changes

# Resource types that hold data a replacement would lose (or keys that decrypt it).
HOLDS_DATA = {
    "AWS::S3::Bucket",
    "AWS::DynamoDB::GlobalTable",
    "AWS::DynamoDB::Table",
    "AWS::KMS::Key",
    "AWS::Logs::LogGroup",
    "AWS::SQS::Queue",
    "AWS::SNS::Topic",
}
IMAGE = WORKSTATION_IMAGE_CONTEXT_KEY.format(region="eu-west-2", architecture="arm64")
# Made-up image ids, only ever synthesised here: a newer image is a different id in the same key.
CACHED = {IMAGE: "ami-0123456789abcdef0"}

ROUTINE_CHANGES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "a newer workstation image": (CACHED, {IMAGE: "ami-0fedcba9876543210"}),
    "caching the image for the first time": ({}, CACHED),
    "the workstation's instance type": ({}, {"workstation_instance_type": "t4g.xlarge"}),
    "the workstation's CPU architecture": ({}, {"workstation_instance_type": "t3.large"}),
    "the EMR instance types": ({}, {"emr_primary_instance_type": "m6g.xlarge", "emr_core_instance_type": "m5.xlarge"}),
    "the EMR release": ({}, {"emr_release": "emr-7.12.0"}),
    "the idle minutes": ({}, {"emr_idle_timeout_minutes": "30", "workstation_idle_stop_minutes": "60"}),
    "in-transit encryption (the security configuration)": (
        {},
        {"emr_in_transit_encryption": "true", "emr_tls_certificates_s3_uri": "s3://my-certs/emr/certs.zip"},
    ),
    "the network mode": ({}, {"network_mode": "isolated"}),
    "the standing cluster's definition": (
        {"cluster_mode": "standing"},
        {"cluster_mode": "standing", "emr_core_instance_count": "3", "emr_release": "emr-7.12.0"},
    ),
    "SSH access": ({}, {"workstation_key_pair": "lab", "workstation_ssh_cidr": "10.1.0.0/16"}),
}


def changes(synth, before: dict[str, Any], after: dict[str, Any]):
    old, new = synth(nag=False, **before), synth(nag=False, **after)
    return assembly_changes(load_assembly(old.outdir), load_assembly(new.outdir), "eu-west-2")


@pytest.mark.parametrize("change", list(ROUTINE_CHANGES))
def test_a_routine_change_never_blocks_on_an_export_nor_replaces_data(synth, change: str) -> None:
    before, after = ROUTINE_CHANGES[change]
    found = changes(synth, before, after)
    blocked = [reason for stack in found.values() for reason in stack.blocked]
    assert blocked == []
    lost = [
        f"{stack}: {resource.describe()} ({resource.action})"
        for stack, stack_changes in found.items()
        for resource in stack_changes.resources
        if resource.resource_type in HOLDS_DATA and resource.action in (REPLACED, MAY_BE_REPLACED, REMOVED)
    ]
    assert lost == []
    assert any(stack.resources for stack in found.values()), "the change must change something"


def test_the_cached_image_is_the_one_the_instance_runs_and_a_newer_one_replaces_only_the_workstation(synth) -> None:
    """With the entry, the template names the image (no SSM parameter resolved at deployment); changing it is the
    one deliberate way to replace the workstation."""
    cached = synth(nag=False, **CACHED)
    instance = next(
        resource
        for resource in cached.template("compute")["Resources"].values()
        if resource["Type"] == "AWS::EC2::Instance"
    )
    assert "ami-0123456789abcdef0" in str(instance["Properties"]["ImageId"])
    assert not any("ami-amazon-linux-latest" in str(p) for p in cached.template("compute").get("Parameters", {}))
    found = changes(synth, CACHED, {IMAGE: "ami-0fedcba9876543210"})
    replaced = [
        (r.resource_type, r.action) for stack in found.values() for r in stack.resources if r.action == REPLACED
    ]
    assert ("AWS::EC2::Instance", REPLACED) in replaced


def test_the_automation_stack_imports_nothing_a_routine_change_replaces(synth) -> None:
    """The cluster's network, security configuration and instance profile, the standing cluster and the workstation
    reach the automation stack through SSM parameters (stacks/handoff.py); what it still imports from the compute
    stack are the EMR roles' names and ARNs, which only a change to the roles themselves would replace."""
    for app in (synth(nag=False), synth(nag=False, cluster_mode="standing")):
        compute = app.template("compute")
        exported = {
            output["Export"]["Name"]: output["Value"]
            for output in compute.get("Outputs", {}).values()
            if "Export" in output
        }
        kinds = {
            compute["Resources"][next(iter(value.values())) if "Ref" in value else value["Fn::GetAtt"][0]]["Type"]
            for value in exported.values()
        }
        assert kinds <= {"AWS::IAM::Role"}, kinds
        parameters = app.template("automation").get("Parameters", {})
        handed = [p for p in parameters.values() if str(p.get("Default", "")).startswith("/ml-lab-dev/")]
        assert all(p["Type"] == "AWS::SSM::Parameter::Value<String>" for p in handed)
        assert all(p["Default"].startswith(f"/{app.settings.name_prefix}/handoff/") for p in handed)
        assert len(handed) >= 8
