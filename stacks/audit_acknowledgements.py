"""The one way this project acknowledges an audit finding: one exact finding, one construct, one reason."""

from __future__ import annotations

import re
from typing import Any

from aws_cdk import Acknowledgment, CfnResource, Validations
from constructs import IConstruct

# "AwsSolutions-IAM5[Action::s3:*]" or "Serverless-LambdaDLQ": pack, rule, optional finding in brackets.
_FINDING = re.compile(r"^(AwsSolutions|Serverless|HIPAA\.Security|NIST\.800\.53\.R5)-[A-Za-z0-9]+(\[.+\])?$")


def acknowledge(construct: IConstruct, finding: str, reason: str) -> None:
    """Acknowledges ``finding`` on ``construct`` (and its children) only, with a reason a reviewer can check."""
    if not _FINDING.match(finding):
        raise ValueError(f"not a cdk-nag finding id: {finding!r}")
    if len(reason.split()) < 6:
        raise ValueError(f"acknowledgement of {finding} needs a real reason, got {reason!r}")
    Validations.of(construct).acknowledge(Acknowledgment(id=finding, reason=reason))


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


def skip_cfn_lint(resource: CfnResource, rule: str, reason: str) -> None:
    """Ignores one cfn-lint rule on one resource (template Metadata), recording the reason beside it."""
    if not re.match(r"^[EWI]\d{4}$", rule) or len(reason.split()) < 6:
        raise ValueError(f"cfn-lint exception needs a rule id and a real reason: {rule!r}, {reason!r}")
    _append_metadata(resource, ("cfn-lint", "config", "ignore_checks"), rule)
    _append_metadata(resource, ("audit-exceptions", "cfn-lint"), {"id": rule, "reason": reason})


def skip_checkov(resource: CfnResource, check: str, reason: str) -> None:
    """Skips one checkov check on one resource, in checkov's own Metadata format (id + comment)."""
    if not re.match(r"^CKV2?_AWS_\d+$", check) or len(reason.split()) < 6:
        raise ValueError(f"checkov skip needs a check id and a real reason: {check!r}, {reason!r}")
    _append_metadata(resource, ("checkov", "skip"), {"id": check, "comment": reason})

