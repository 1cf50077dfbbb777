"""AWS SDK calls as the IAM requests AWS authorises for them.

A recorded call (service, operation, parameters, response) becomes one request per resource it acts on, plus the
requests AWS authorises on the caller's behalf: RunJobFlow is also an ``elasticmapreduce:AddTags`` of its tags and
an ``iam:PassRole`` of each role it names (and a ``PutAutoTerminationPolicy`` of the policy it may carry); publishing to a KMS-encrypted topic also uses the key
(``kms:GenerateDataKey``, ``kms:Decrypt``). An operation without a mapping here raises ``Unmapped``: a function
that starts calling something new fails the check until the mapping (and the grant) is reviewed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

# Every request is made over TLS 1.2+ (the buckets' policies deny anything else) from the project's region.
BASE_CONTEXT = {"aws:SecureTransport": "true"}
S3_CONTEXT = {**BASE_CONTEXT, "s3:TlsVersion": "1.3"}


class Unmapped(LookupError):
    """An SDK operation this module does not know the IAM request of."""


@dataclass(frozen=True)
class Request:
    """One IAM authorisation: who, what, on which resource, with which request context."""

    principal: str  # the role's ARN
    action: str  # service:Action
    resource: str  # ARN, or "*" for actions without resource-level permissions
    context: dict[str, str | list[str]] = field(default_factory=dict)
    why: str = ""  # what it stands for, for the report

    def as_json(self) -> dict[str, Any]:
        return {
            "principal": self.principal,
            "action": self.action,
            "resource": self.resource,
            "context": self.context,
            "why": self.why,
        }


@dataclass(frozen=True)
class Call:
    """One SDK call a function made: its service and operation, parameters and parsed response."""

    function: str  # the function (its folder) that made it
    service: str  # botocore service name: emr, s3, dynamodb, sns, ec2
    operation: str  # RunJobFlow, PutObject, ...
    params: dict[str, Any]
    response: dict[str, Any] = field(default_factory=dict)


class Lookup(Protocol):
    """What a deployment knows that the call itself does not carry (tags, which role a profile holds, ...)."""

    account: str
    region: str

    def cluster_tags(self, cluster_id: str) -> dict[str, str]: ...

    def instance_tags(self, instance_id: str) -> dict[str, str]: ...

    def instance_profile_role(self, profile: str) -> str: ...

    def topic_key_arn(self, topic_arn: str) -> str | None: ...


def tag_context(prefix: str, tags: dict[str, str]) -> dict[str, str | list[str]]:
    context: dict[str, str | list[str]] = {f"{prefix}/{key}": value for key, value in tags.items()}
    if prefix == "aws:RequestTag":
        context["aws:TagKeys"] = list(tags)
    return context


def requests_for(call: Call, principal: str, lookup: Lookup) -> list[Request]:
    """The IAM requests ``call``, made as ``principal``, is authorised by."""
    mapper = _MAPPERS.get((call.service, call.operation))
    if mapper is None:
        raise Unmapped(f"{call.function}: no IAM mapping for {call.service} {call.operation}")
    return [
        Request(principal, action, resource, {**BASE_CONTEXT, **context}, f"{call.function}: {why}")
        for action, resource, context, why in mapper(call, lookup)
    ]


Mapped = list[tuple[str, str, dict[str, Any], str]]  # (action, resource, context, why)


def _cluster(lookup: Lookup, cluster_id: str) -> str:
    return f"arn:aws:elasticmapreduce:{lookup.region}:{lookup.account}:cluster/{cluster_id}"


def _on_clusters(action: str, key: str) -> Callable[[Call, Lookup], Mapped]:
    def mapped(call: Call, lookup: Lookup) -> Mapped:
        ids = call.params[key] if isinstance(call.params[key], list) else [call.params[key]]
        return [
            (
                action,
                _cluster(lookup, cluster_id),
                tag_context("aws:ResourceTag", lookup.cluster_tags(cluster_id)),
                call.operation,
            )
            for cluster_id in ids
        ]

    return mapped


def _run_job_flow(call: Call, lookup: Lookup) -> Mapped:
    tags = {tag["Key"]: tag.get("Value", "") for tag in call.params.get("Tags", [])}
    cluster_id = call.response.get("JobFlowId", "*")
    roles = [
        (call.params["ServiceRole"], "ServiceRole"),
        (lookup.instance_profile_role(call.params["JobFlowRole"]), "JobFlowRole's role"),
    ]
    mapped: Mapped = [
        ("elasticmapreduce:RunJobFlow", "*", tag_context("aws:RequestTag", tags), "RunJobFlow"),
        # Since April 2023 EMR authorises the tags of RunJobFlow as AddTags on the new cluster.
        (
            "elasticmapreduce:AddTags",
            _cluster(lookup, cluster_id),
            tag_context("aws:RequestTag", tags),
            "RunJobFlow's tags",
        ),
    ]
    if "AutoTerminationPolicy" in call.params:
        # "Using an auto-termination policy for Amazon EMR cluster cleanup" (EMR Management Guide): a policy sent
        # with RunJobFlow needs elasticmapreduce:PutAutoTerminationPolicy.
        mapped.append(
            (
                "elasticmapreduce:PutAutoTerminationPolicy",
                _cluster(lookup, cluster_id),
                tag_context("aws:ResourceTag", tags),
                "RunJobFlow's AutoTerminationPolicy",
            )
        )
    for role, which in roles:
        role_arn = role if role.startswith("arn:") else f"arn:aws:iam::{lookup.account}:role/{role}"
        mapped.append(
            (
                "iam:PassRole",
                role_arn,
                {"iam:PassedToService": "elasticmapreduce.amazonaws.com"},
                f"RunJobFlow's {which}",
            )
        )
    return mapped


def _publish(call: Call, lookup: Lookup) -> Mapped:
    topic = call.params["TopicArn"]
    mapped: Mapped = [("sns:Publish", topic, {}, "Publish")]
    key = lookup.topic_key_arn(topic)
    if key is not None:  # SNS encrypts the message with the topic's key on the publisher's behalf
        via = {"kms:ViaService": f"sns.{lookup.region}.amazonaws.com"}
        mapped += [
            (action, key, via, "Publish to an encrypted topic") for action in ("kms:GenerateDataKey", "kms:Decrypt")
        ]
    return mapped


def _s3_object(action: str) -> Callable[[Call, Lookup], Mapped]:
    return lambda call, lookup: [
        (action, f"arn:aws:s3:::{call.params['Bucket']}/{call.params['Key']}", S3_CONTEXT, call.operation)
    ]


def _dynamodb(action: str) -> Callable[[Call, Lookup], Mapped]:
    return lambda call, lookup: [
        (
            action,
            f"arn:aws:dynamodb:{lookup.region}:{lookup.account}:table/{call.params['TableName']}",
            {},
            call.operation,
        )
    ]


def _everything(action: str) -> Callable[[Call, Lookup], Mapped]:
    return lambda call, lookup: [(action, "*", {}, call.operation)]


def _stop_instances(call: Call, lookup: Lookup) -> Mapped:
    return [
        (
            "ec2:StopInstances",
            f"arn:aws:ec2:{lookup.region}:{lookup.account}:instance/{instance_id}",
            tag_context("aws:ResourceTag", lookup.instance_tags(instance_id)),
            "StopInstances",
        )
        for instance_id in call.params["InstanceIds"]
    ]


_MAPPERS: dict[tuple[str, str], Callable[[Call, Lookup], Mapped]] = {
    ("emr", "ListClusters"): _everything("elasticmapreduce:ListClusters"),
    ("emr", "DescribeCluster"): _on_clusters("elasticmapreduce:DescribeCluster", "ClusterId"),
    ("emr", "ListSteps"): _on_clusters("elasticmapreduce:ListSteps", "ClusterId"),
    ("emr", "AddJobFlowSteps"): _on_clusters("elasticmapreduce:AddJobFlowSteps", "JobFlowId"),
    ("emr", "TerminateJobFlows"): _on_clusters("elasticmapreduce:TerminateJobFlows", "JobFlowIds"),
    ("emr", "RunJobFlow"): _run_job_flow,
    ("s3", "PutObject"): _s3_object("s3:PutObject"),
    ("s3", "GetObject"): _s3_object("s3:GetObject"),
    ("s3", "HeadObject"): _s3_object("s3:GetObject"),
    ("sns", "Publish"): _publish,
    ("dynamodb", "GetItem"): _dynamodb("dynamodb:GetItem"),
    ("dynamodb", "PutItem"): _dynamodb("dynamodb:PutItem"),
    ("dynamodb", "UpdateItem"): _dynamodb("dynamodb:UpdateItem"),
    ("dynamodb", "DeleteItem"): _dynamodb("dynamodb:DeleteItem"),
    ("ec2", "DescribeInstances"): _everything("ec2:DescribeInstances"),
    ("ec2", "StopInstances"): _stop_instances,
}
