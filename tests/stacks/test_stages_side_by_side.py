"""Stages side by side (issue 21, defect 2 and its class): dev, prod and another deployment (a second project name)
synthesise into one account and Region with no two resources sharing an explicit physical name.

Which properties are physical names comes from the resource schemas (tools/audit/replacement.py reads them from
cfn-lint's copy): a create-only property whose name ends in ``Name`` (``LaunchTemplateName``, ``RoleName``,
``LogGroupName``, ``TableName``, ``TopicName``, a rule's or an SSM parameter's ``Name``, ``Budget/BudgetName``, ...),
plus every export name. An explicit name is one the template spells: literals and pseudo parameters only (a name
built from another resource's generated id is unique already). Names of other resources that a resource refers to
(an instance's ``KeyName``) are not its own.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from tools.audit.replacement import create_only, values_at

# Create-only properties ending in Name that name something else than the resource declared: the key pair an instance
# uses, the AWS service an endpoint reaches.
REFERENCES = {("AWS::EC2::Instance", "/properties/KeyName"), ("AWS::EC2::VPCEndpoint", "/properties/ServiceName")}
STAGES = {
    "dev": {},
    "prod": {"stage": "prod", "budget_email": "ops@example.com"},
    "another project": {"project": "ml-lab-two"},
    "dev, standing, e-mail": {"cluster_mode": "standing", "notification_email": "me@example.com"},
}


def _refers_to_a_resource(value: Any) -> bool:
    return "Fn::GetAtt" in json.dumps(value) or any(not ref.startswith("AWS::") for ref in _refs(value))


def _refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [value["Ref"]] if isinstance(value.get("Ref"), str) else []
        return found + [ref for item in value.values() for ref in _refs(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in _refs(item)]
    return []


def explicit_names(app) -> set[tuple[str, str, str]]:
    """(resource type, property pointer, name as the template spells it) of every explicit physical name."""
    names = set()
    for template in app.templates.values():
        for resource in template["Resources"].values():
            pointers = create_only(resource["Type"], "eu-west-2")
            if pointers is None:
                continue
            for pointer in [*pointers[0], *pointers[1]]:
                if not pointer.split("/")[-1].endswith("Name") or (resource["Type"], pointer) in REFERENCES:
                    continue
                for value in values_at(resource.get("Properties", {}), pointer):
                    if value != "<absent>" and not _refers_to_a_resource(value):
                        names.add((resource["Type"], pointer, json.dumps(value, sort_keys=True)))
        for output in template.get("Outputs", {}).values():
            if "Export" in output:
                names.add(("Export", "Name", json.dumps(output["Export"]["Name"], sort_keys=True)))
    return names


def test_deployments_side_by_side_share_no_explicit_physical_name(synth) -> None:
    owners: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    counted = {}
    for stage, context in STAGES.items():
        found = explicit_names(synth(nag=False, **context))
        counted[stage] = len(found)
        for name in found:
            owners[name].append(stage)
    shared = {name: stages for name, stages in owners.items() if len(stages) > 1}
    # The same deployment in another cluster mode is the same stage: it may (and should) reuse its names.
    shared = {name: stages for name, stages in shared.items() if set(stages) != {"dev", "dev, standing, e-mail"}}
    assert shared == {}
    assert min(counted.values()) >= 8, counted  # exports, SSM parameters, the stacks' explicit names


def test_the_check_sees_a_fixed_name_in_every_stage(synth) -> None:
    """What the check would have said of the launch template the CDK names after its construct path."""
    app = synth(nag=False)
    names = explicit_names(app)
    template = next(
        resource
        for resource in app.template("compute")["Resources"].values()
        if resource["Type"] == "AWS::EC2::LaunchTemplate"
    )
    assert "LaunchTemplateName" not in template["Properties"]
    named = {**template, "Properties": {**template["Properties"], "LaunchTemplateName": "ComputeWorkstationInstance"}}
    fake = type("App", (), {"templates": {"t": {"Resources": {"LT": named}}}})()
    assert ("AWS::EC2::LaunchTemplate", "/properties/LaunchTemplateName", '"ComputeWorkstationInstance"') in (
        explicit_names(fake)
    )
    assert not any(kind == "AWS::EC2::LaunchTemplate" for kind, _, _ in names)
