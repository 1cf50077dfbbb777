"""What least privilege means for this project, written down: requests that must be denied, and controls that must
be allowed (so a denial is not merely a resolver that found no policy).

Each request names a role of the deployment and is built from the deployment's own names (``Facts``), so the
list holds for any project, stage, cluster mode or account.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lab_contract.names import CLUSTER_SHAPE_TAG_KEY, EMR_MANAGED_POLICY_TAG, INPUT_BYTES_TAG_KEY
from tools.iam_simulation.deployment import Deployment
from tools.iam_simulation.requests import S3_CONTEXT, Request, tag_context

Row = tuple[str, str, str, Mapping[str, Any], str]  # (role, action, resource, context, why)
FOREIGN_ACCOUNT = "210987654321"
FOREIGN_CLUSTER = "j-3FOREIGNCLUSTER"


@dataclass(frozen=True)
class Facts:
    """The deployment's names the expectations are written in."""

    account: str
    region: str
    tags: dict[str, str]  # the project's tags (RunJobFlow's request tags)
    roles: dict[str, str]  # submit, events, guard, workstation, nodes, emr_service -> role ARN
    buckets: dict[str, str]  # ratings, results, logs, artifacts -> bucket name
    table: str  # idempotency table ARN
    topic: str  # alerts topic ARN
    topic_key: str  # its KMS key ARN
    workstation: str  # the workstation instance id
    standing_cluster: str | None  # the standing cluster's id (standing mode)

    def cluster(self, cluster_id: str, account: str | None = None) -> str:
        return f"arn:aws:elasticmapreduce:{self.region}:{account or self.account}:cluster/{cluster_id}"

    def object(self, bucket: str, key: str) -> str:
        return f"arn:aws:s3:::{self.buckets.get(bucket, bucket)}/{key}"


def facts_of(deployment: Deployment, tags: dict[str, str]) -> Facts:
    def physical(logical_prefix: str, resource_type: str) -> tuple[str, str]:
        """(physical id, ARN or physical id) of the one resource of that type whose logical id has the prefix."""
        found = [
            (deployed, logical_id)
            for deployed in deployment.templates
            for logical_id, resource in deployed.resources.items()
            if logical_id.startswith(logical_prefix) and resource["Type"] == resource_type
        ]
        if len(found) != 1:
            raise LookupError(f"{len(found)} {resource_type} with a logical id starting {logical_prefix!r}")
        deployed, logical_id = found[0]
        physical_id = deployment.physical_id(deployed, logical_id)
        arn = deployment.arn_of(deployed, logical_id) if resource_type != "AWS::EC2::Instance" else physical_id
        return physical_id, arn

    standing = [
        deployment.physical_id(deployed, logical_id)
        for deployed in deployment.templates
        for logical_id, resource in deployed.resources.items()
        if resource["Type"] == "AWS::EMR::Cluster"
    ]
    role_prefixes = {
        "submit": "JobsSubmitJobServiceRole",
        "events": "JobsEmrEventsServiceRole",
        "guard": "JobsSpendGuardServiceRole",
        "workstation": "WorkstationRole",
        "nodes": "SparkInstanceRole",
        "emr_service": "SparkServiceRole",
    }
    return Facts(
        account=deployment.account,
        region=deployment.region,
        tags=dict(tags),
        roles={name: deployment.role_arn(deployment.role_of(prefix)) for name, prefix in role_prefixes.items()},
        buckets={
            name: physical(f"Buckets{name.capitalize()}", "AWS::S3::Bucket")[0]
            for name in ("ratings", "results", "logs", "artifacts")
        },
        table=physical("JobsIdempotencyTable", "AWS::DynamoDB::GlobalTable")[1],
        topic=physical("AlertsTopic", "AWS::SNS::Topic")[1],
        topic_key=physical("AlertsKey", "AWS::KMS::Key")[1],
        workstation=physical("WorkstationInstance", "AWS::EC2::Instance")[0],
        standing_cluster=standing[0] if standing else None,
    )


def _requests(facts: Facts, rows: list[Row]) -> list[Request]:
    return [
        Request(facts.roles[role], action, resource, {"aws:SecureTransport": "true", **context}, why)
        for role, action, resource, context, why in rows
    ]


# Object requests that must be denied: role, action, bucket (the project's by short name, or another), key, and what
# the request would be.
S3_FORBIDDEN = """
submit       GetObject     ratings         ratings/u.data                           reading the ratings
events       PutObject     results         runs/20261125-3ea629fd85a4/metrics.json  forging a run's results
events       PutObject     ratings         ratings/u.data                           writing the input prefix (a loop)
events       PutObject     another-bucket  outcomes/x.json                          another bucket
events       GetObject     results         outcomes/x/y.json                        reading outcomes
workstation  PutObject     ratings         ratings/u.data                           writing the input prefix
workstation  DeleteObject  ratings         ratings/u.data                           deleting the input
workstation  DeleteObject  results         runs/x/metrics.json                      deleting results
workstation  PutObject     results         outcomes/x/y.json                        forging an outcome
workstation  GetObject     another-bucket  x                                        another bucket
nodes        PutObject     ratings         ratings/u.data                           writing the input prefix
nodes        GetObject     ratings         elsewhere/u.data                         reading outside the prefix
nodes        PutObject     results         outcomes/x/y.json                        forging an outcome
"""
S3_CONTROLS = """
workstation  GetObject     ratings         ratings/u.data                           reading the ratings
workstation  PutObject     results         runs/x/metrics.json                      writing results
nodes        GetObject     ratings         ratings/u.data                           reading the ratings
nodes        PutObject     results         runs/x/metrics.json                      writing results
events       PutObject     results         outcomes/x/y.json                        writing an outcome
"""


def _s3_rows(facts: Facts, table: str) -> list[Row]:
    rows: list[Row] = []
    for line in table.strip().splitlines():
        role, action, bucket, key, why = line.split(maxsplit=4)
        rows.append((role, f"s3:{action}", facts.object(bucket, key), S3_CONTEXT, why))
    return rows


ByRole = dict[str, list[tuple[str, str, Mapping[str, Any], str]]]


def forbidden(facts: Facts) -> list[Request]:
    """Requests each role must be denied."""
    request, on = _request_tags(facts), _resource_tags(facts)
    by_role: ByRole = {
        "submit": _submit_forbidden(facts, request, on),
        "events": _events_forbidden(facts),
        "guard": _guard_forbidden(facts, request, on),
    }
    if facts.standing_cluster is None:
        by_role["submit"].append(
            ("elasticmapreduce:AddJobFlowSteps", facts.cluster("j-ANY"), on["ours"], "steps in transient mode")
        )
    rows: list[Row] = [(role, *row) for role, table in by_role.items() for row in table]
    return _requests(facts, rows + _s3_rows(facts, S3_FORBIDDEN))


def _other_stage(facts: Facts) -> str:
    return "prod" if facts.tags.get("stage", "") != "prod" else "dev"


def _request_tags(facts: Facts) -> dict[str, Mapping[str, Any]]:
    """The tags a request may carry (aws:RequestTag): the project's, and near misses of them."""
    ours = facts.tags
    return {
        "ours": tag_context("aws:RequestTag", ours),
        "other project": tag_context("aws:RequestTag", {**ours, "project": "someone-else"}),
        "other stage": tag_context("aws:RequestTag", {**ours, "stage": _other_stage(facts)}),
        "another key": tag_context("aws:RequestTag", {**ours, "team": "x"}),
        "project only": tag_context("aws:RequestTag", {"project": ours["project"]}),
    }


def _resource_tags(facts: Facts) -> dict[str, Mapping[str, Any]]:
    """The tags a resource may carry (aws:ResourceTag): a foreign project's, ours, another stage's."""
    ours = facts.tags
    return {
        "foreign": tag_context("aws:ResourceTag", {"project": "someone-else", "stage": ours.get("stage", "")}),
        "ours": tag_context("aws:ResourceTag", ours),
        "other stage": tag_context("aws:ResourceTag", {**ours, "stage": _other_stage(facts)}),
    }


def _submit_forbidden(facts: Facts, request: dict, on: dict) -> list[tuple[str, str, Mapping[str, Any], str]]:
    """submit: only the project's clusters, only its two roles, nothing else."""
    foreign = facts.cluster(FOREIGN_CLUSTER)
    to_emr = {"iam:PassedToService": "elasticmapreduce.amazonaws.com"}
    return [
        ("elasticmapreduce:RunJobFlow", "*", {}, "RunJobFlow without tags"),
        ("elasticmapreduce:RunJobFlow", "*", request["other project"], "RunJobFlow for another project"),
        ("elasticmapreduce:RunJobFlow", "*", request["other stage"], "RunJobFlow for another stage"),
        ("iam:PassRole", f"arn:aws:iam::{facts.account}:role/Admin", to_emr, "PassRole of another role"),
        ("iam:PassRole", facts.roles["workstation"], to_emr, "PassRole of the workstation role"),
        (
            "iam:PassRole",
            facts.roles["emr_service"],
            {"iam:PassedToService": "lambda.amazonaws.com"},
            "PassRole elsewhere",
        ),
        ("elasticmapreduce:AddTags", foreign, request["another key"], "AddTags of another tag key"),
        ("elasticmapreduce:AddTags", foreign, request["project only"], "AddTags of some of the project's tags only"),
        (
            "elasticmapreduce:AddTags",
            foreign.replace("cluster/", "studio/es-"),
            request["ours"],
            "AddTags on an EMR Studio",
        ),
        (
            "elasticmapreduce:AddTags",
            facts.cluster(FOREIGN_CLUSTER, FOREIGN_ACCOUNT),
            request["ours"],
            "AddTags in another account",
        ),
        ("elasticmapreduce:TerminateJobFlows", foreign, on["ours"], "terminating a cluster"),
        ("elasticmapreduce:AddJobFlowSteps", foreign, on["foreign"], "a step on a foreign cluster"),
        ("dynamodb:PutItem", f"arn:aws:dynamodb:{facts.region}:{facts.account}:table/other", {}, "another table"),
    ]


def _events_forbidden(facts: Facts) -> list[tuple[str, str, Mapping[str, Any], str]]:
    """emr_events: its outcome records and the alerts topic only."""
    another_key = f"arn:aws:kms:{facts.region}:{facts.account}:key/{'0' * 8}-0000-0000-0000-{'0' * 12}"
    return [
        ("sns:Publish", f"arn:aws:sns:{facts.region}:{facts.account}:another-topic", {}, "another topic"),
        ("kms:Decrypt", another_key, {}, "another key"),
    ]


def _guard_forbidden(facts: Facts, request: dict, on: dict) -> list[tuple[str, str, Mapping[str, Any], str]]:
    """spend_guard: terminate only the project's clusters, stop only the workstation."""
    foreign = facts.cluster(FOREIGN_CLUSTER)
    instance = f"arn:aws:ec2:{facts.region}:{facts.account}:instance/"
    return [
        ("elasticmapreduce:TerminateJobFlows", foreign, on["foreign"], "terminating a foreign cluster"),
        ("elasticmapreduce:TerminateJobFlows", foreign, on["other stage"], "terminating another stage's cluster"),
        ("elasticmapreduce:TerminateJobFlows", foreign, {}, "terminating an untagged cluster"),
        ("elasticmapreduce:AddTags", foreign, request["ours"], "tagging a cluster into scope"),
        ("elasticmapreduce:RunJobFlow", "*", request["ours"], "starting a cluster"),
        ("ec2:StopInstances", f"{instance}i-0another000000000", {}, "stopping another instance"),
        ("ec2:TerminateInstances", f"{instance}{facts.workstation}", {}, "terminating the workstation"),
    ]


def controls(facts: Facts) -> list[Request]:
    """Requests each role needs, beside the forbidden ones: the check cannot pass by denying everything."""
    emr = "elasticmapreduce"
    starts = _cluster_starts(facts)
    rows: list[Row] = [
        *starts,
        ("submit", "dynamodb:PutItem", facts.table, {}, "the idempotency record"),
        ("events", "sns:Publish", facts.topic, {}, "announcing an outcome"),
        (
            "events",
            "kms:GenerateDataKey",
            facts.topic_key,
            {"kms:ViaService": f"sns.{facts.region}.amazonaws.com"},
            "the topic's key",
        ),
        ("guard", f"{emr}:DescribeCluster", facts.cluster("j-1ANY"), {}, "describing clusters"),
        (
            "guard",
            "ec2:StopInstances",
            f"arn:aws:ec2:{facts.region}:{facts.account}:instance/{facts.workstation}",
            {},
            "stopping the workstation",
        ),
        (
            "guard",
            f"{emr}:TerminateJobFlows",
            facts.cluster(FOREIGN_CLUSTER),
            tag_context("aws:ResourceTag", facts.tags),
            "terminating a project cluster",
        ),
    ]
    return _requests(facts, rows + _s3_rows(facts, S3_CONTROLS))


def _cluster_starts(facts: Facts) -> list[Row]:
    """What submit needs to start a run: a tagged transient cluster, or a step on the standing one."""
    emr = "elasticmapreduce"
    if facts.standing_cluster is None:
        # RunJobFlow's tags: the project's and the v2 service policy's (JOB_FLOW_TEMPLATE's Tags)
        cluster_tags = {**facts.tags, EMR_MANAGED_POLICY_TAG: "true"}
        request_tags = tag_context("aws:RequestTag", cluster_tags)
        starts: list[Row] = [
            ("submit", f"{emr}:RunJobFlow", "*", request_tags, "RunJobFlow with the project's tags"),
            ("submit", f"{emr}:AddTags", facts.cluster("j-1NEW"), request_tags, "RunJobFlow's tags"),
            (
                "submit",
                f"{emr}:AddTags",
                facts.cluster("j-1NEW"),
                tag_context(
                    "aws:RequestTag",
                    {
                        **cluster_tags,
                        CLUSTER_SHAPE_TAG_KEY: "primary:1xm7g.xlarge core:0",
                        INPUT_BYTES_TAG_KEY: "2000000",
                    },
                ),
                "RunJobFlow's tags with the sizing tags submit_job adds",
            ),
            (
                "submit",
                "iam:PassRole",
                facts.roles["emr_service"],
                {"iam:PassedToService": f"{emr}.amazonaws.com"},
                "PassRole",
            ),
            ("submit", f"{emr}:ListClusters", "*", {}, "finding a run's cluster"),
        ]
    else:
        starts = [
            (
                "submit",
                f"{emr}:AddJobFlowSteps",
                facts.cluster(facts.standing_cluster),
                {},
                "a step on the standing cluster",
            ),
            ("submit", f"{emr}:ListSteps", facts.cluster(facts.standing_cluster), {}, "finding a run's step"),
            (
                "submit",
                f"{emr}:DescribeCluster",
                facts.cluster(facts.standing_cluster),
                {},
                "whether the standing cluster has ended",
            ),
        ]
    return starts
