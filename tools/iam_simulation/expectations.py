"""What least privilege means for this project, written down: requests that must be denied, and controls that must
be allowed (so a denial is not merely a resolver that found no policy).

Each request names a role of the deployment and is built from the deployment's own names (``Facts``), so the
list holds for any project, stage, cluster mode or account.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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


def forbidden(facts: Facts) -> list[Request]:
    """Requests each role must be denied."""
    ours = facts.tags
    other_project = {**ours, "project": "someone-else"}
    other_stage = {**ours, "stage": "prod" if ours.get("stage") != "prod" else "dev"}
    request_tags = tag_context("aws:RequestTag", ours)
    on_foreign = tag_context("aws:ResourceTag", {"project": "someone-else", "stage": ours.get("stage", "")})
    on_ours = tag_context("aws:ResourceTag", ours)
    instance = f"arn:aws:ec2:{facts.region}:{facts.account}:instance/"
    emr = "elasticmapreduce"
    rows: list[Row] = [
        # submit: only the project's clusters, only its two roles, nothing else
        ("submit", f"{emr}:RunJobFlow", "*", {}, "RunJobFlow without tags"),
        (
            "submit",
            f"{emr}:RunJobFlow",
            "*",
            tag_context("aws:RequestTag", other_project),
            "RunJobFlow tagged for another project",
        ),
        (
            "submit",
            f"{emr}:RunJobFlow",
            "*",
            tag_context("aws:RequestTag", other_stage),
            "RunJobFlow tagged for another stage",
        ),
        (
            "submit",
            "iam:PassRole",
            f"arn:aws:iam::{facts.account}:role/Admin",
            {"iam:PassedToService": f"{emr}.amazonaws.com"},
            "PassRole of another role",
        ),
        (
            "submit",
            "iam:PassRole",
            facts.roles["workstation"],
            {"iam:PassedToService": "ec2.amazonaws.com"},
            "PassRole of the workstation role",
        ),
        (
            "submit",
            "iam:PassRole",
            facts.roles["emr_service"],
            {"iam:PassedToService": "lambda.amazonaws.com"},
            "PassRole of the EMR role to another service",
        ),
        (
            "submit",
            f"{emr}:AddTags",
            facts.cluster(FOREIGN_CLUSTER),
            tag_context("aws:RequestTag", {**ours, "team": "x"}),
            "AddTags of another tag key",
        ),
        (
            "submit",
            f"{emr}:AddTags",
            facts.cluster(FOREIGN_CLUSTER),
            tag_context("aws:RequestTag", {"project": ours["project"]}),
            "AddTags of some of the project's tags only",
        ),
        (
            "submit",
            f"{emr}:AddTags",
            f"arn:aws:{emr}:{facts.region}:{facts.account}:studio/es-FOREIGN",
            request_tags,
            "AddTags on an EMR Studio",
        ),
        (
            "submit",
            f"{emr}:AddTags",
            facts.cluster(FOREIGN_CLUSTER, FOREIGN_ACCOUNT),
            request_tags,
            "AddTags in another account",
        ),
        ("submit", f"{emr}:TerminateJobFlows", facts.cluster(FOREIGN_CLUSTER), on_ours, "terminating a cluster"),
        ("submit", f"{emr}:AddJobFlowSteps", facts.cluster(FOREIGN_CLUSTER), on_foreign, "a step on a foreign cluster"),
        ("submit", "s3:GetObject", facts.object("ratings", "ratings/u.data"), S3_CONTEXT, "reading the ratings"),
        (
            "submit",
            "dynamodb:PutItem",
            f"arn:aws:dynamodb:{facts.region}:{facts.account}:table/other",
            {},
            "another table",
        ),
        # emr_events: its outcome records and the alerts topic only
        (
            "events",
            "s3:PutObject",
            facts.object("results", "runs/20261125-3ea629fd85a4/metrics.json"),
            S3_CONTEXT,
            "forging a run's results",
        ),
        (
            "events",
            "s3:PutObject",
            facts.object("ratings", "ratings/u.data"),
            S3_CONTEXT,
            "writing the input prefix (a loop)",
        ),
        ("events", "s3:PutObject", "arn:aws:s3:::another-bucket/outcomes/x.json", S3_CONTEXT, "another bucket"),
        ("events", "s3:GetObject", facts.object("results", "outcomes/x/y.json"), S3_CONTEXT, "reading outcomes"),
        ("events", "sns:Publish", f"arn:aws:sns:{facts.region}:{facts.account}:another-topic", {}, "another topic"),
        (
            "events",
            "kms:Decrypt",
            f"arn:aws:kms:{facts.region}:{facts.account}:key/00000000-0000-0000-0000-000000000000",
            {},
            "another key",
        ),
        # spend_guard: terminate only the project's clusters, stop only the workstation
        (
            "guard",
            f"{emr}:TerminateJobFlows",
            facts.cluster(FOREIGN_CLUSTER),
            on_foreign,
            "terminating a foreign cluster",
        ),
        (
            "guard",
            f"{emr}:TerminateJobFlows",
            facts.cluster(FOREIGN_CLUSTER),
            tag_context("aws:ResourceTag", other_stage),
            "terminating another stage's cluster",
        ),
        ("guard", f"{emr}:TerminateJobFlows", facts.cluster(FOREIGN_CLUSTER), {}, "terminating an untagged cluster"),
        ("guard", f"{emr}:AddTags", facts.cluster(FOREIGN_CLUSTER), request_tags, "tagging a cluster into scope"),
        ("guard", f"{emr}:RunJobFlow", "*", request_tags, "starting a cluster"),
        ("guard", "ec2:StopInstances", f"{instance}i-0another000000000", {}, "stopping another instance"),
        ("guard", "ec2:TerminateInstances", f"{instance}{facts.workstation}", {}, "terminating the workstation"),
        # the workstation: reads ratings, writes run results; never the input prefix
        (
            "workstation",
            "s3:PutObject",
            facts.object("ratings", "ratings/u.data"),
            S3_CONTEXT,
            "writing the input prefix",
        ),
        ("workstation", "s3:DeleteObject", facts.object("ratings", "ratings/u.data"), S3_CONTEXT, "deleting the input"),
        (
            "workstation",
            "s3:DeleteObject",
            facts.object("results", "runs/x/metrics.json"),
            S3_CONTEXT,
            "deleting results",
        ),
        ("workstation", "s3:PutObject", facts.object("results", "outcomes/x/y.json"), S3_CONTEXT, "forging an outcome"),
        ("workstation", "s3:GetObject", "arn:aws:s3:::another-bucket/x", S3_CONTEXT, "another bucket"),
        # the cluster's nodes: never the input prefix
        ("nodes", "s3:PutObject", facts.object("ratings", "ratings/u.data"), S3_CONTEXT, "writing the input prefix"),
        (
            "nodes",
            "s3:GetObject",
            facts.object("ratings", "elsewhere/u.data"),
            S3_CONTEXT,
            "reading outside the prefix",
        ),
        ("nodes", "s3:PutObject", facts.object("results", "outcomes/x/y.json"), S3_CONTEXT, "forging an outcome"),
    ]
    if facts.standing_cluster is None:
        rows.append(("submit", f"{emr}:AddJobFlowSteps", facts.cluster("j-ANY"), on_ours, "steps in transient mode"))
    return _requests(facts, rows)


def controls(facts: Facts) -> list[Request]:
    """Requests each role needs, beside the forbidden ones: the check cannot pass by denying everything."""
    emr = "elasticmapreduce"
    if facts.standing_cluster is None:
        request_tags = tag_context("aws:RequestTag", facts.tags)
        starts: list[Row] = [
            ("submit", f"{emr}:RunJobFlow", "*", request_tags, "RunJobFlow with the project's tags"),
            ("submit", f"{emr}:AddTags", facts.cluster("j-1NEW"), request_tags, "RunJobFlow's tags"),
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
        ]
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
        ("workstation", "s3:GetObject", facts.object("ratings", "ratings/u.data"), S3_CONTEXT, "reading the ratings"),
        ("workstation", "s3:PutObject", facts.object("results", "runs/x/metrics.json"), S3_CONTEXT, "writing results"),
        ("nodes", "s3:GetObject", facts.object("ratings", "ratings/u.data"), S3_CONTEXT, "reading the ratings"),
        ("nodes", "s3:PutObject", facts.object("results", "runs/x/metrics.json"), S3_CONTEXT, "writing results"),
        ("events", "s3:PutObject", facts.object("results", "outcomes/x/y.json"), S3_CONTEXT, "writing an outcome"),
        (
            "guard",
            "elasticmapreduce:TerminateJobFlows",
            facts.cluster(FOREIGN_CLUSTER),
            tag_context("aws:ResourceTag", facts.tags),
            "terminating a project cluster",
        ),
    ]
    return _requests(facts, rows)
