"""What each IAM role may do: its statements (inline, attached AWS::IAM::Policy / ManagedPolicy) and the managed
policy ARNs attached to it, with wide grants flagged."""

from __future__ import annotations

import re
from typing import Any

from tools.audit.assembly import CloudAssembly, StackTemplate, as_list, references, render

_SERVICE_WILDCARD = re.compile(r"^[a-z0-9-]+:\*$")


def _flags(
    effect: str, actions: list[str], not_actions: list[str], resources: list[str], not_resources: list[str]
) -> list[str]:
    if effect != "Allow":
        return []
    flags = []
    if any(action == "*" for action in actions):
        flags.append("action *")
    flags += [f"action {action}" for action in actions if _SERVICE_WILDCARD.match(action)]
    if not_actions:
        flags.append("NotAction (allows everything else)")
    if any(resource == "*" for resource in resources):
        flags.append("resource *")
    if not_resources:
        flags.append("NotResource")
    return flags


def statements(document: Any, source: str) -> list[dict[str, Any]]:
    rows = []
    for statement in as_list((document or {}).get("Statement")):
        if not isinstance(statement, dict):
            continue
        effect = statement.get("Effect", "Allow")
        actions = [render(action) for action in as_list(statement.get("Action"))]
        not_actions = [render(action) for action in as_list(statement.get("NotAction"))]
        resources = [render(resource) for resource in as_list(statement.get("Resource"))]
        not_resources = [render(resource) for resource in as_list(statement.get("NotResource"))]
        flags = _flags(effect, actions, not_actions, resources, not_resources)
        rows.append(
            {
                "source": source,
                "sid": statement.get("Sid"),
                "effect": effect,
                "principals": _principals(statement.get("Principal")),
                "actions": actions,
                "not_actions": not_actions,
                "resources": resources,
                "not_resources": not_resources,
                "condition": statement.get("Condition"),
                "wide": bool(flags),
                "flags": flags,
            }
        )
    return rows


def _principals(principal: Any) -> list[str]:
    """``Service:events.amazonaws.com``, ``AWS:*``: one string per principal a statement names."""
    if isinstance(principal, dict):
        return [f"{kind}:{render(value)}" for kind, values in principal.items() for value in as_list(values)]
    return [] if principal is None else [render(principal)]


def _trusted(document: Any) -> list[str]:
    return [
        name
        for statement in as_list((document or {}).get("Statement"))
        for name in _principals((statement or {}).get("Principal"))
    ]


def _managed_policy_arn(stack: StackTemplate, value: Any) -> tuple[str, str | None]:
    """(readable ARN, logical id of an AWS::IAM::ManagedPolicy in this template when the ARN refers to one)."""
    refs = [
        name for name in references(value) if stack.resources.get(name, {}).get("Type") == "AWS::IAM::ManagedPolicy"
    ]
    text = render(value).replace("arn:${AWS::Partition}:", "arn:aws:")
    return text, (refs[0] if refs else None)


def roles(assembly: CloudAssembly) -> list[dict[str, Any]]:
    report = []
    for stack in assembly.stacks:
        attached: dict[str, list[dict[str, Any]]] = {}
        for logical_id, resource in stack.of_type("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            properties = resource.get("Properties") or {}
            for role in as_list(properties.get("Roles")):
                for role_id in references(role):
                    attached.setdefault(role_id, []).extend(
                        statements(
                            properties.get("PolicyDocument"),
                            f"{resource['Type'].split('::')[-1]} {stack.path_of(logical_id)}",
                        )
                    )
        for logical_id, resource in stack.of_type("AWS::IAM::Role"):
            properties = resource.get("Properties") or {}
            rows = []
            for policy in as_list(properties.get("Policies")):
                rows += statements(policy.get("PolicyDocument"), f"inline {render(policy.get('PolicyName', ''))}")
            managed = []
            for arn in as_list(properties.get("ManagedPolicyArns")):
                text, local = _managed_policy_arn(stack, arn)
                if local:
                    continue  # its statements arrive through `attached` (it names the role) or below
                managed.append(text)
            # A customer-managed policy in this template referenced by ARN from the role (not via its Roles list).
            for arn in as_list(properties.get("ManagedPolicyArns")):
                _, local = _managed_policy_arn(stack, arn)
                if local and logical_id not in {
                    r
                    for value in as_list((stack.resources[local].get("Properties") or {}).get("Roles"))
                    for r in references(value)
                }:
                    rows += statements(
                        (stack.resources[local].get("Properties") or {}).get("PolicyDocument"),
                        f"ManagedPolicy {stack.path_of(local)}",
                    )
            rows += attached.get(logical_id, [])
            report.append(
                {
                    "stack": stack.stack_name,
                    "resource": logical_id,
                    "path": stack.path_of(logical_id),
                    "trusted": _trusted(properties.get("AssumeRolePolicyDocument")),
                    "managed_policy_arns": managed,
                    "statements": rows,
                    "wide": any(row["wide"] for row in rows) or any(_wide_managed(arn) for arn in managed),
                }
            )
    return report


_WIDE_MANAGED = ("AdministratorAccess", "PowerUserAccess", "FullAccess", "IAMFullAccess")


def _wide_managed(arn: str) -> bool:
    return any(marker in arn for marker in _WIDE_MANAGED)


# Resource-based policies: who else may act on a resource. Type -> the property holding the policy document.
_RESOURCE_POLICIES = {
    "AWS::S3::BucketPolicy": "PolicyDocument",
    "AWS::SNS::TopicPolicy": "PolicyDocument",
    "AWS::SQS::QueuePolicy": "PolicyDocument",
    "AWS::KMS::Key": "KeyPolicy",
    "AWS::Events::EventBusPolicy": "Statement",
}


def resource_policies(assembly: CloudAssembly) -> list[dict[str, Any]]:
    """Every resource-based policy (bucket, topic, queue, key policies; Lambda permissions as one statement each)."""
    found = []
    for stack in assembly.stacks:
        for logical_id, resource in stack.resources.items():
            properties = resource.get("Properties") or {}
            kind = resource.get("Type", "")
            document: Any
            if kind == "AWS::Lambda::Permission":
                document = {
                    "Statement": {
                        "Effect": "Allow",
                        "Principal": properties.get("Principal"),
                        "Action": properties.get("Action"),
                        "Resource": properties.get("FunctionName"),
                        "Condition": {"SourceArn": properties.get("SourceArn")}
                        if properties.get("SourceArn")
                        else None,
                    }
                }
            elif kind in _RESOURCE_POLICIES:
                document = properties.get(_RESOURCE_POLICIES[kind])
                if kind == "AWS::Events::EventBusPolicy":  # the statement itself is the property
                    document = {"Statement": document}
            else:
                continue
            rows = statements(document, kind)
            found.append(
                {
                    "stack": stack.stack_name,
                    "resource": logical_id,
                    "path": stack.path_of(logical_id),
                    "kind": kind,
                    "statements": rows,
                    "principals": _trusted(document),
                    "wide": any(row["wide"] for row in rows),
                }
            )
    return found
