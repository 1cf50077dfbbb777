"""The IAM policies of a deployment, read from its synthesised templates and resolved to concrete ARNs.

A ``Deployment`` is the templates plus the physical id of each resource (what CloudFormation created, or made-up
names for an offline check). References are resolved the way CloudFormation resolves them: ``Ref`` (of a resource,
a pseudo parameter, or a parameter read from an SSM parameter another template writes),
``Fn::GetAtt ... Arn``, ``Fn::Join``, ``Fn::Sub``, ``Fn::ImportValue`` (from the other templates' exported
Outputs) and the pseudo parameters. A reference it cannot resolve raises ``Unresolvable``: the check then fails
loudly instead of evaluating a policy that differs from the deployed one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


class Unresolvable(ValueError):
    """A template reference this resolver does not know how to turn into a value."""


@dataclass(frozen=True)
class DeployedTemplate:
    stack_name: str
    template: dict[str, Any]
    physical_ids: dict[str, str]  # logical id -> physical id (Ref)

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return dict(self.template.get("Resources", {}))


# type -> the ARN of a resource from its physical id (what Fn::GetAtt <resource>.Arn returns)
_ARNS = {
    "AWS::IAM::Role": "arn:{partition}:iam::{account}:role/{id}",
    "AWS::S3::Bucket": "arn:{partition}:s3:::{id}",
    "AWS::DynamoDB::GlobalTable": "arn:{partition}:dynamodb:{region}:{account}:table/{id}",
    "AWS::DynamoDB::Table": "arn:{partition}:dynamodb:{region}:{account}:table/{id}",
    "AWS::KMS::Key": "arn:{partition}:kms:{region}:{account}:key/{id}",
    "AWS::Lambda::Function": "arn:{partition}:lambda:{region}:{account}:function:{id}",
    "AWS::Logs::LogGroup": "arn:{partition}:logs:{region}:{account}:log-group:{id}:*",
    "AWS::SNS::Topic": "{id}",  # its physical id is its ARN
    "AWS::Events::Rule": "arn:{partition}:events:{region}:{account}:rule/{id}",
}


@dataclass
class Deployment:
    """Templates with the physical ids of their resources, in one account and region."""

    templates: list[DeployedTemplate]
    account: str
    region: str
    partition: str = "aws"
    _exports: dict[str, tuple[DeployedTemplate, Any]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        for deployed in self.templates:
            for output in deployed.template.get("Outputs", {}).values():
                name = output.get("Export", {}).get("Name")
                if isinstance(name, str):
                    self._exports[name] = (deployed, output["Value"])

    # ------------------------------------------------------------------------------------------ resolving
    def arn_of(self, deployed: DeployedTemplate, logical_id: str) -> str:
        resource_type = deployed.resources[logical_id]["Type"]
        physical_id = self.physical_id(deployed, logical_id)
        if resource_type == "AWS::SQS::Queue":  # its physical id is its URL
            return f"arn:{self.partition}:sqs:{self.region}:{self.account}:{physical_id.rsplit('/', 1)[-1]}"
        if resource_type not in _ARNS:
            raise Unresolvable(f"{deployed.stack_name}/{logical_id}: no ARN format for {resource_type}")
        return _ARNS[resource_type].format(
            partition=self.partition, region=self.region, account=self.account, id=physical_id
        )

    def physical_id(self, deployed: DeployedTemplate, logical_id: str) -> str:
        if logical_id not in deployed.physical_ids:
            raise Unresolvable(f"{deployed.stack_name}/{logical_id} has no physical id")
        return deployed.physical_ids[logical_id]

    def _pseudo(self, name: str) -> str | None:
        return {
            "AWS::Partition": self.partition,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::URLSuffix": "amazonaws.com",
        }.get(name)

    def resolve(self, deployed: DeployedTemplate, value: Any) -> Any:
        """``value`` with every intrinsic function of ``deployed``'s template replaced by what it evaluates to."""
        if isinstance(value, list):
            return [self.resolve(deployed, item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1 or not next(iter(value)).startswith(("Fn::", "Ref")):
            return {key: self.resolve(deployed, item) for key, item in value.items()}
        [(function, argument)] = value.items()
        if function == "Ref":
            return self._ref(deployed, argument)
        if function == "Fn::GetAtt":
            return self._get_att(deployed, argument)
        if function == "Fn::Join":
            separator, items = argument
            return separator.join(str(self.resolve(deployed, item)) for item in items)
        if function == "Fn::Sub":
            return self._sub(deployed, argument)
        if function == "Fn::Select":
            index, items = argument
            return self.resolve(deployed, items)[int(self.resolve(deployed, index))]
        if function == "Fn::Split":
            separator, text = argument
            return str(self.resolve(deployed, text)).split(separator)
        if function == "Fn::ImportValue":
            name = self.resolve(deployed, argument)
            if name not in self._exports:
                raise Unresolvable(f"{deployed.stack_name}: no stack exports {name!r}")
            exporter, exported = self._exports[name]
            return self.resolve(exporter, exported)
        raise Unresolvable(f"{deployed.stack_name}: {function} is not supported")

    def _ref(self, deployed: DeployedTemplate, name: str) -> Any:
        pseudo = self._pseudo(name)
        if pseudo is not None:
            return pseudo
        if name in deployed.template.get("Parameters", {}):
            return self._parameter(deployed, name)
        return self.physical_id(deployed, name)

    def _parameter(self, deployed: DeployedTemplate, name: str) -> Any:
        """A template parameter of type ``AWS::SSM::Parameter::Value<String>``: the value of the SSM parameter its
        default names, as the template that declares that parameter sets it (stacks/handoff.py)."""
        declared = deployed.template["Parameters"][name]
        if declared.get("Type") != "AWS::SSM::Parameter::Value<String>":
            raise Unresolvable(f"{deployed.stack_name}: parameter {name} of type {declared.get('Type')}")
        for other in self.templates:
            for resource in other.resources.values():
                properties = resource.get("Properties", {})
                if resource["Type"] == "AWS::SSM::Parameter" and properties.get("Name") == declared.get("Default"):
                    return self.resolve(other, properties["Value"])
        raise Unresolvable(f"{deployed.stack_name}: no template writes the SSM parameter {declared.get('Default')}")

    def _get_att(self, deployed: DeployedTemplate, argument: Any) -> str:
        logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
        if attribute == "GroupId":  # a VPC security group's id is its physical id
            return self.physical_id(deployed, logical_id)
        if attribute not in ("Arn", "TopicArn"):
            raise Unresolvable(f"{deployed.stack_name}: Fn::GetAtt {logical_id}.{attribute}")
        return self.arn_of(deployed, logical_id)

    def _sub(self, deployed: DeployedTemplate, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(self.resolve(deployed, variables[name]))
            logical_id, _, attribute = name.partition(".")
            if attribute:
                return str(self.resolve(deployed, {"Fn::GetAtt": [logical_id, attribute]}))
            return str(self.resolve(deployed, {"Ref": name}))

        return re.sub(r"\$\{([^!}][^}]*)\}", replace, text)

    # ------------------------------------------------------------------------------------------ policies
    def role_arn(self, role_name: str) -> str:
        return f"arn:{self.partition}:iam::{self.account}:role/{role_name}"

    def _roles(self) -> Iterator[tuple[DeployedTemplate, str, str]]:
        for deployed in self.templates:
            for logical_id, resource in deployed.resources.items():
                if resource["Type"] == "AWS::IAM::Role" and logical_id in deployed.physical_ids:
                    yield deployed, logical_id, deployed.physical_ids[logical_id]

    def role_of(self, logical_prefix: str) -> str:
        """The physical name of the one role whose logical id starts with ``logical_prefix``."""
        found = [name for _, logical_id, name in self._roles() if logical_id.startswith(logical_prefix)]
        if len(found) != 1:
            raise LookupError(f"{len(found)} roles with a logical id starting {logical_prefix!r}: {found}")
        return found[0]

    def identity_policies(self, role_name: str) -> list[dict[str, Any]]:
        """The role's inline policies and the ``AWS::IAM::Policy`` documents attached to it, resolved."""
        policies = []
        for deployed, logical_id, name in self._roles():
            if name == role_name:
                for inline in deployed.resources[logical_id]["Properties"].get("Policies", []):
                    policies.append(
                        {"name": inline["PolicyName"], "policy": self.resolve(deployed, inline["PolicyDocument"])}
                    )
        for deployed in self.templates:
            for logical_id, resource in deployed.resources.items():
                if resource["Type"] != "AWS::IAM::Policy":
                    continue
                properties = resource["Properties"]
                if role_name in self.resolve(deployed, properties.get("Roles", [])):
                    policies.append(
                        {"name": logical_id, "policy": self.resolve(deployed, properties["PolicyDocument"])}
                    )
        if not policies:
            raise LookupError(f"no policy is attached to role {role_name!r}")
        return policies

    def managed_policy_arns(self, role_name: str) -> list[str]:
        for deployed, logical_id, name in self._roles():
            if name == role_name:
                arns = deployed.resources[logical_id]["Properties"].get("ManagedPolicyArns", [])
                return [str(arn) for arn in self.resolve(deployed, arns)]
        raise LookupError(f"no role {role_name!r}")

    def _governed_by(self, deployed: DeployedTemplate, resource: dict[str, Any]) -> list[str]:
        """The ARNs a bucket, topic or queue policy resource governs (a bucket's objects by its ARN + "/")."""
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::S3::BucketPolicy":
            return [f"arn:{self.partition}:s3:::{self.resolve(deployed, properties['Bucket'])}"]
        if resource["Type"] == "AWS::SNS::TopicPolicy":
            return list(self.resolve(deployed, properties["Topics"]))
        if resource["Type"] == "AWS::SQS::QueuePolicy":  # queues are listed by URL
            prefix = f"arn:{self.partition}:sqs:{self.region}:{self.account}:"
            return [prefix + url.rsplit("/", 1)[-1] for url in self.resolve(deployed, properties["Queues"])]
        return []

    def resource_policy(self, resource_arn: str) -> dict[str, Any] | None:
        """The bucket, topic, queue or key policy that governs ``resource_arn``, resolved; None if none."""
        for deployed in self.templates:
            for resource in deployed.resources.values():
                governed = self._governed_by(deployed, resource)
                if resource_arn in governed or (
                    resource["Type"] == "AWS::S3::BucketPolicy" and resource_arn.startswith(f"{governed[0]}/")
                ):
                    return dict(self.resolve(deployed, resource["Properties"]["PolicyDocument"]))
            for logical_id, resource in deployed.resources.items():
                is_key = resource["Type"] == "AWS::KMS::Key" and logical_id in deployed.physical_ids
                if is_key and self.arn_of(deployed, logical_id) == resource_arn:
                    return dict(self.resolve(deployed, resource["Properties"]["KeyPolicy"]))
        return None
