"""What CloudFormation does to each touched resource, from the resource schemas: an in-place update, a restart, a
replacement (direct, or through a reference), a conditional one, and what blocks a deployment."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tools.audit.assembly import CloudAssembly, StackTemplate, load_assembly
from tools.audit.replacement import (
    MAY_BE_REPLACED,
    REPLACED,
    UPDATED,
    assembly_changes,
    create_only,
    direct_change,
    stack_changes,
    values_at,
)

REGION = "eu-west-2"


@pytest.fixture(scope="module")
def base(lab) -> CloudAssembly:
    return load_assembly(lab.outdir)


def edited(
    assembly: CloudAssembly, stack_id: str, edit: Callable[[Callable[[str], dict[str, Any]]], None]
) -> CloudAssembly:
    """A copy of the assembly in memory whose stack ``stack_id`` went through ``edit(at)``, ``at(path)`` giving the
    resource at a construct path."""
    stacks = []
    for stack in assembly.stacks:
        template = copy.deepcopy(stack.template)
        if stack.artifact_id == stack_id:
            paths = {stack.path_of(key): key for key in template["Resources"]}
            edit(lambda path, paths=paths, template=template: template["Resources"][paths[path]])
        stacks.append(
            StackTemplate(stack.artifact_id, stack.stack_name, stack.template_file, template, stack.construct_paths)
        )
    return CloudAssembly(Path(assembly.directory), stacks)


def touched(before: CloudAssembly, after: CloudAssembly, stack_id: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    changes = assembly_changes(before, after, REGION)[stack_id]
    return {change.path: (change.action, change.reasons) for change in changes.resources}


INSTANCE = "Compute/Workstation/Instance/Resource"


def test_a_new_instance_type_is_an_update_with_a_restart_where_cdk_says_may_be_replaced(base) -> None:
    after = edited(base, "Compute", lambda at: at(INSTANCE)["Properties"].update(InstanceType="t4g.xlarge"))

    assert touched(base, after, "Compute") == {
        "Workstation/Instance": (
            UPDATED,
            ("InstanceType: an update with a restart (stop and start), not a replacement",),
        )
    }
    # The schema lists the property among the conditionally create-only ones, which CDK reads as "may be replaced".
    always, sometimes = create_only("AWS::EC2::Instance", REGION)
    assert "/properties/InstanceType" in sometimes and "/properties/InstanceType" not in always


def test_a_create_only_property_replaces_the_resource_and_what_names_it_in_a_create_only_property(base) -> None:
    after = edited(
        base, "Storage", lambda at: at("Storage/Buckets/Results/Resource")["Properties"].update(BucketName="x")
    )

    found = touched(base, after, "Storage")
    assert found["Buckets/Results"] == (REPLACED, ("BucketName is create-only",))
    assert found["Buckets/Results/Policy"] == (REPLACED, ("Bucket refers to Buckets/Results, which is replaced",))
    # Properties that are not create-only are updated with the new bucket's name.
    assert found["Buckets/Results/AutoDeleteObjectsCustomResource"][0] == UPDATED
    # Automation imports the bucket's ARN: CloudFormation would refuse to change that export.
    (blocked,) = assembly_changes(base, after, REGION)["Storage"].blocked
    assert "follows Buckets/Results, which is replaced, while Automation imports it" in blocked


def test_an_attribute_read_in_a_create_only_property_may_replace_the_reader(base) -> None:
    def hop_limit(at: Callable[[str], dict[str, Any]]) -> None:
        data = at("Compute/Workstation/Instance/LaunchTemplate")["Properties"]["LaunchTemplateData"]
        data["MetadataOptions"]["HttpPutResponseHopLimit"] = 3

    found = touched(base, edited(base, "Compute", hop_limit), "Compute")

    assert found["Workstation/Instance/LaunchTemplate"][0] == UPDATED
    # The instance's LaunchTemplate (create-only) reads the template's LatestVersionNumber, which an update changes.
    assert found["Workstation/Instance"] == (
        MAY_BE_REPLACED,
        ("LaunchTemplate is create-only and reads an attribute of Workstation/Instance/LaunchTemplate",),
    )


def test_a_conditional_property_without_a_documented_update_may_replace(base) -> None:
    after = edited(base, "Compute", lambda at: at(INSTANCE)["Properties"]["SecurityGroupIds"].append("sg-0123"))

    assert touched(base, after, "Compute")["Workstation/Instance"] == (
        MAY_BE_REPLACED,
        ("SecurityGroupIds is create-only in some cases",),
    )


def test_a_new_logical_id_for_the_same_construct_is_a_replacement_not_an_addition(base) -> None:
    compute = base.stack("Compute")
    template = copy.deepcopy(compute.template)
    old_id = next(key for key in template["Resources"] if compute.path_of(key) == INSTANCE)
    template["Resources"]["WorkstationInstanceRenamed"] = template["Resources"].pop(old_id)
    paths = {**compute.construct_paths, "WorkstationInstanceRenamed": INSTANCE}  # the assembly's metadata
    after = StackTemplate("Compute", compute.stack_name, compute.template_file, template, paths)

    changes = stack_changes(compute, after, REGION)

    (renamed,) = [change for change in changes.resources if change.logical_id == "WorkstationInstanceRenamed"]
    assert renamed.action == REPLACED and old_id in renamed.reasons[0]
    assert "added" not in changes.counts() and "removed" not in changes.counts()


def test_metadata_alone_is_no_resource_change(base) -> None:
    def skip_a_check(at: Callable[[str], dict[str, Any]]) -> None:
        at(INSTANCE).setdefault("Metadata", {})["checkov"] = {"skip": [{"id": "CKV_AWS_1", "comment": "why"}]}

    assert touched(base, edited(base, "Compute", skip_a_check), "Compute") == {}


@pytest.mark.parametrize(
    ("before", "after", "verdict"),
    [
        # A custom resource's provider decides; its service token is create-only.
        ({"Type": "Custom::X", "Properties": {"A": 1}}, {"Type": "Custom::X", "Properties": {"A": 2}}, UPDATED),
        (
            {"Type": "Custom::X", "Properties": {"ServiceToken": "a"}},
            {"Type": "Custom::X", "Properties": {"ServiceToken": "b"}},
            REPLACED,
        ),
        # No schema: no claim either way.
        (
            {"Type": "Vendor::No::Schema", "Properties": {"A": 1}},
            {"Type": "Vendor::No::Schema", "Properties": {"A": 2}},
            MAY_BE_REPLACED,
        ),
        # Adding a create-only property replaces too, even at the value it had by default.
        (
            {"Type": "AWS::SNS::Topic", "Properties": {}},
            {"Type": "AWS::SNS::Topic", "Properties": {"FifoTopic": False}},
            REPLACED,
        ),
        # A nested create-only property (Budget.BudgetName) replaces; its sibling does not.
        (
            {"Type": "AWS::Budgets::Budget", "Properties": {"Budget": {"BudgetName": "a", "BudgetLimit": 1}}},
            {"Type": "AWS::Budgets::Budget", "Properties": {"Budget": {"BudgetName": "a", "BudgetLimit": 2}}},
            UPDATED,
        ),
        (
            {"Type": "AWS::Budgets::Budget", "Properties": {"Budget": {"BudgetName": "a"}}},
            {"Type": "AWS::Budgets::Budget", "Properties": {"Budget": {"BudgetName": "b"}}},
            REPLACED,
        ),
        (
            {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Delete"},
            {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain"},
            UPDATED,
        ),
        ({"Type": "AWS::SNS::Topic"}, {"Type": "AWS::SQS::Queue"}, REPLACED),
    ],
)
def test_direct_changes_follow_the_schema(before: dict[str, Any], after: dict[str, Any], verdict: str) -> None:
    found = direct_change(before, after, REGION)
    assert found is not None and found[0] == verdict, found


def test_a_pointer_selects_every_item_and_a_computed_value_whole() -> None:
    properties = {"Tags": [{"Key": "a", "Value": 1}, {"Key": "b"}], "Name": {"Fn::Sub": "${AWS::StackName}-x"}}
    assert values_at(properties, "/properties/Tags/*/Key") == ["a", "b"]
    assert values_at(properties, "/properties/Name/Inner") == [{"Fn::Sub": "${AWS::StackName}-x"}]
    assert values_at(properties, "/properties/Missing/Inner") == ["<absent>"]
