"""The one way this project acknowledges an audit finding: one exact finding, one construct, one reason."""

from __future__ import annotations

import re
from typing import Any

from aws_cdk import Acknowledgment, CfnResource, Validations
from aws_cdk import aws_iam as iam
from constructs import Construct, IConstruct

# "AwsSolutions-IAM5[Action::s3:*]" or "Serverless-LambdaDLQ": pack, rule, optional finding in brackets.
# What a reviewer can accept as a reason: a sentence that says why, not a token such as "ok" or "not needed".
MIN_REASON_WORDS = 6


def is_real_reason(reason: str | None) -> bool:
    return len((reason or "").split()) >= MIN_REASON_WORDS


_FINDING = re.compile(r"^(AwsSolutions|Serverless|HIPAA\.Security|NIST\.800\.53\.R5)-[A-Za-z0-9]+(\[.+\])?$")


def acknowledge(construct: IConstruct, finding: str, reason: str) -> None:
    """Acknowledges ``finding`` on ``construct`` (and its children) only, with a reason a reviewer can check."""
    if not _FINDING.match(finding):
        raise ValueError(f"not a cdk-nag finding id: {finding!r}")
    if not is_real_reason(reason):
        raise ValueError(f"acknowledgement of {finding} needs a real reason, got {reason!r}")
    Validations.of(construct).acknowledge(Acknowledgment(id=finding, reason=reason))


def cfn_resource(construct: IConstruct | None) -> CfnResource:
    """The CloudFormation resource behind ``construct``: itself when it is one, else its default child."""
    resource = construct if isinstance(construct, CfnResource) else construct.node.default_child if construct else None
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{construct} is not, and has no default child that is, a CloudFormation resource")
    return resource


def _append_metadata(resource: CfnResource, path: tuple[str, ...], item: Any) -> None:
    """Appends ``item`` to the list at ``path`` in the resource's template Metadata (creating it)."""
    metadata = dict(resource.get_metadata(path[0]) or {})
    node = metadata
    for key in path[1:-1]:
        node[key] = dict(node.get(key) or {})
        node = node[key]
    items = list(node.get(path[-1]) or [])
    if item not in items:
        items.append(item)
    node[path[-1]] = items
    resource.add_metadata(path[0], metadata)


def skip_cfn_lint(construct: IConstruct | None, rule: str, reason: str) -> None:
    """Ignores one cfn-lint rule on one resource (template Metadata), recording the reason beside it."""
    resource = cfn_resource(construct)
    if not re.match(r"^[EWI][0-9]{4}$", rule) or not is_real_reason(reason):
        raise ValueError(f"cfn-lint exception needs a rule id and a real reason: {rule!r}, {reason!r}")
    _append_metadata(resource, ("cfn-lint", "config", "ignore_checks"), rule)
    _append_metadata(resource, ("audit-exceptions", "cfn-lint"), {"id": rule, "reason": reason})


def skip_checkov(construct: IConstruct | None, check: str, reason: str) -> None:
    """Skips one checkov check on one resource, in checkov's own Metadata format (id + comment)."""
    resource = cfn_resource(construct)
    if not re.match(r"^CKV2?_AWS_[0-9]+$", check) or not is_real_reason(reason):
        raise ValueError(f"checkov skip needs a check id and a real reason: {check!r}, {reason!r}")
    _append_metadata(resource, ("checkov", "skip"), {"id": check, "comment": reason})


def role_with_aws_managed_policy(
    scope: Construct, construct_id: str, *, service: str, policy: str, description: str, reason: str
) -> iam.Role:
    """A role for ``service`` with one AWS managed ``policy``, and the cdk-nag IAM4 finding that policy raises
    acknowledged on it with ``reason`` (why AWS's policy beats a hand-written copy)."""
    role = iam.Role(
        scope,
        construct_id,
        assumed_by=iam.ServicePrincipal(service),
        managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(policy)],
        description=description,
    )
    acknowledge(role, f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{policy}]", reason)
    return role
