"""What AWS does on the project's behalf, written down: the requests AWS services make with the project's roles, and
as themselves, for the lab to work in a real account. Each names the AWS documentation page it comes from.

The functions' own calls are ``requests`` (recorded in the lifecycle test); these are the calls nobody records
offline: EMR launching a cluster with the service role (instances, encrypted volumes, security groups, the instance
profile's role), the nodes and the workstation reading the job and writing results, the submitting role's share of
RunJobFlow (the cleanup service-linked role, the request as submit_job builds it from the template), and the
services that publish to the encrypted alerts topic or fill the dead-letter queues. Every name comes from the
deployment (its templates and physical ids), so the list holds for any project, stage, mode or account.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lab_contract.layout import CHECKPOINTS_PREFIX, EMR_LOGS_PREFIX, RATINGS_PREFIX, RESULTS_RUNS_PREFIX
from tools.iam_simulation.deployment import DeployedTemplate, Deployment
from tools.iam_simulation.expectations import Facts
from tools.iam_simulation.managed_policies import EMR_MANAGED_REQUEST_TAG
from tools.iam_simulation.requests import BASE_CONTEXT, S3_CONTEXT, Call, Request, requests_for, tag_context

EMR = "elasticmapreduce.amazonaws.com"
# Pages each expected request comes from (titles as AWS publishes them).
EBS_ENCRYPTION = "Requirements for Amazon EBS encryption (Amazon EBS User Guide)"
EMR_SERVICE_POLICY = "AmazonEMRServicePolicy_v2 (AWS Managed Policy Reference Guide)"
EMR_KEYS = "Create keys and certificates for data encryption with Amazon EMR (EMR Management Guide)"
EMR_CLEANUP = "Using service-linked roles for Amazon EMR for cleanup (EMR Management Guide)"
EMR_INSTANCE_PROFILE = "Service role for cluster EC2 instances (EC2 instance profile) (EMR Management Guide)"
ROLE_HANDOFF = "Granting a user permissions to pass a role to an AWS service (IAM User Guide)"
SNS_SSE = "Securing Amazon SNS data with server-side encryption (Amazon SNS Developer Guide)"
BUDGETS_SNS = "Creating an Amazon SNS topic for budget notifications (AWS Cost Management User Guide)"
SNS_DLQ = "Amazon SNS dead-letter queues (Amazon SNS Developer Guide)"
SESSION_MANAGER = (
    "AmazonSSMManagedInstanceCore (AWS Managed Policy Reference Guide); Actions, resources, and condition keys for "
    "Amazon Message Gateway Service (Service Authorization Reference)"
)
RUN_JOB_FLOW = "RunJobFlow (Amazon EMR API Reference)"
EVENTS_DLQ = "Using dead-letter queues to process undelivered events in EventBridge (EventBridge User Guide)"


@dataclass(frozen=True)
class LaunchFacts:
    """What a cluster launch uses, from the deployment: the job flow and step submit_job sends, and the network."""

    job_flow: dict[str, Any]  # RunJobFlow's arguments as submit_job reads them (JOB_FLOW_TEMPLATE), resolved
    step: dict[str, Any]  # the step (STEP_TEMPLATE), resolved
    local_disk_key: str  # the security configuration's KMS key ARN
    tagged: dict[str, dict[str, str]]  # subnet and security group ARN -> its tags
    email_dead_letters: str | None  # the e-mail subscription's dead-letter queue ARN, when there is one
    dead_letters: str  # the functions' and rules' dead-letter queue ARN
    rules: list[str]  # the EventBridge rules' ARNs


def _resources(deployment: Deployment, resource_type: str) -> Iterator[tuple[DeployedTemplate, str, dict[str, Any]]]:
    for deployed in deployment.templates:
        for logical_id, resource in deployed.resources.items():
            if resource["Type"] == resource_type:
                yield deployed, logical_id, resource


def launch_facts(deployment: Deployment) -> LaunchFacts:
    env = next(
        deployment.resolve(deployed, resource["Properties"]["Environment"]["Variables"])
        for deployed, logical_id, resource in _resources(deployment, "AWS::Lambda::Function")
        if logical_id.startswith("JobsSubmitJob")
    )
    ec2 = f"arn:aws:ec2:{deployment.region}:{deployment.account}"
    tagged = {}
    for resource_type, kind in (("AWS::EC2::Subnet", "subnet"), ("AWS::EC2::SecurityGroup", "security-group")):
        for deployed, logical_id, resource in _resources(deployment, resource_type):
            tags = deployment.resolve(deployed, resource["Properties"].get("Tags", []))
            tagged[f"{ec2}:{kind}/{deployment.physical_id(deployed, logical_id)}"] = {
                tag["Key"]: tag["Value"] for tag in tags
            }

    def arn(logical_prefix: str, resource_type: str) -> list[str]:
        return [
            deployment.arn_of(deployed, logical_id)
            for deployed, logical_id, _ in _resources(deployment, resource_type)
            if logical_id.startswith(logical_prefix)
        ]

    rules = [
        deployment.arn_of(deployed, logical_id)
        for deployed, logical_id, _ in _resources(deployment, "AWS::Events::Rule")
    ]
    email = arn("AlertsEmailDeadLetters", "AWS::SQS::Queue")
    return LaunchFacts(
        job_flow=json.loads(env["JOB_FLOW_TEMPLATE"]),
        step=json.loads(env["STEP_TEMPLATE"]),
        local_disk_key=arn("SparkLocalDiskKey", "AWS::KMS::Key")[0],
        tagged=tagged,
        email_dead_letters=email[0] if email else None,
        dead_letters=arn("JobsDeadLetters", "AWS::SQS::Queue")[0],
        rules=rules,
    )


Row = tuple[str, str, str, dict[str, Any], str, str]  # (principal, action, resource, context, what, page)


def _emr_service_role(facts: Facts, launch: LaunchFacts) -> list[Row]:
    """EMR launching a cluster's instances as the service role: into the job flow's subnets and security groups
    (tagged for the v2 policy), its instances and volumes (EMR tags them), the instance profile's role passed to
    EC2, and the volumes encrypted with the security configuration's key."""
    role = facts.roles["emr_service"]
    instances = launch.job_flow["Instances"]
    groups = [instances[key] for key in instances if key.endswith("SecurityGroup")]
    network = [arn for arn in launch.tagged if arn.rsplit("/", 1)[-1] in [*instances["Ec2SubnetIds"], *groups]]
    rows: list[Row] = []
    for arn in network:
        on_it = tag_context("aws:ResourceTag", launch.tagged[arn])
        # Instance fleets launch with CreateFleet, which IAM authorises on the subnet; RunInstances on both.
        actions = ("ec2:RunInstances", "ec2:CreateFleet") if ":subnet/" in arn else ("ec2:RunInstances",)
        for action in actions:
            rows.append((role, action, arn, on_it, f"launching into {arn.rsplit(':', 1)[-1]}", EMR_SERVICE_POLICY))
        if ":security-group/" in arn:
            rows.append(
                (
                    role,
                    "ec2:AuthorizeSecurityGroupIngress",
                    arn,
                    on_it,
                    "managing its group's rules",
                    EMR_SERVICE_POLICY,
                )
            )
    ec2 = f"arn:aws:ec2:{facts.region}:{facts.account}"
    emr_tagged = {EMR_MANAGED_REQUEST_TAG: "true"}
    for kind in ("instance", "volume"):
        rows.append((role, "ec2:RunInstances", f"{ec2}:{kind}/*", emr_tagged, f"a tagged {kind}", EMR_SERVICE_POLICY))
    rows.append(
        (role, "ec2:RunInstances", f"arn:aws:ec2:{facts.region}::image/ami-0emr", {}, "EMR's AMI", EMR_SERVICE_POLICY)
    )
    to_ec2 = {"iam:PassedToService": "ec2.amazonaws.com"}
    rows.append((role, "iam:PassRole", facts.roles["nodes"], to_ec2, "the instance profile's role", ROLE_HANDOFF))
    via_ec2 = {"kms:ViaService": f"ec2.{facts.region}.amazonaws.com"}
    for action in ("kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom"):
        rows.append((role, action, launch.local_disk_key, via_ec2, "an encrypted EBS volume", EBS_ENCRYPTION))
    grant = {**via_ec2, "kms:GrantIsForAWSResource": "true"}
    rows.append((role, "kms:CreateGrant", launch.local_disk_key, grant, "EC2's grant for the volume", EBS_ENCRYPTION))
    return rows


def _s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _job_objects(launch: LaunchFacts) -> list[str]:
    """The object ARNs of the job's entry script and package, from the step spark-submit runs."""
    args = launch.step["HadoopJarStep"]["Args"]
    uris = [arg for arg in args if arg.startswith("s3://") and arg.endswith((".py", ".zip"))]
    return [f"arn:aws:s3:::{bucket}/{key}" for bucket, key in map(_s3_uri, uris)]


def _nodes(facts: Facts, launch: LaunchFacts) -> list[Row]:
    """The cluster's nodes (the instance profile's role): the job's assets, the ratings, results and checkpoints,
    the logs, and the local-disk key."""
    role = facts.roles["nodes"]
    rows: list[Row] = [
        (role, "s3:GetObject", obj, S3_CONTEXT, "the job's entry script and package", EMR_INSTANCE_PROFILE)
        for obj in _job_objects(launch)
    ]
    logs_bucket, logs_prefix = _s3_uri(launch.job_flow["LogUri"])
    assert logs_prefix == EMR_LOGS_PREFIX, logs_prefix
    objects = [
        ("s3:GetObject", facts.object("ratings", f"{RATINGS_PREFIX}sample/u.data"), "reading the ratings"),
        ("s3:PutObject", facts.object("results", f"{RESULTS_RUNS_PREFIX}_attempts/r/metrics.json"), "results"),
        ("s3:DeleteObject", facts.object("results", f"{RESULTS_RUNS_PREFIX}_attempts/r/x"), "promoting a run"),
        ("s3:PutObject", facts.object("artifacts", f"{CHECKPOINTS_PREFIX}r/x"), "Spark checkpoints"),
        ("s3:GetObject", facts.object("artifacts", f"{CHECKPOINTS_PREFIX}r/x"), "Spark checkpoints"),
        ("s3:PutObject", f"arn:aws:s3:::{logs_bucket}/{logs_prefix}j-1NEW/steps/s-1/stderr.gz", "the logs"),
    ]
    rows += [(role, action, obj, S3_CONTEXT, what, EMR_INSTANCE_PROFILE) for action, obj, what in objects]
    for bucket, prefix in (("results", RESULTS_RUNS_PREFIX), ("artifacts", CHECKPOINTS_PREFIX)):
        listing = {**S3_CONTEXT, "s3:prefix": f"{prefix}r/"}
        rows.append(
            (role, "s3:ListBucket", f"arn:aws:s3:::{facts.buckets[bucket]}", listing, "listing", EMR_INSTANCE_PROFILE)
        )
    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
        rows.append((role, action, launch.local_disk_key, {}, "local-disk encryption", EMR_KEYS))
    return rows


def _workstation(facts: Facts, launch: LaunchFacts) -> list[Row]:
    """``ml-lab-als`` on the workstation: copies the job and a ratings object, syncs results (which lists first)."""
    role = facts.roles["workstation"]
    page = "Use IAM roles to grant permissions to applications running on Amazon EC2 instances (IAM User Guide)"
    rows: list[Row] = [(role, "s3:GetObject", obj, S3_CONTEXT, "copying the job", page) for obj in _job_objects(launch)]
    rows += [
        (
            role,
            "s3:GetObject",
            facts.object("ratings", f"{RATINGS_PREFIX}sample/u.data"),
            S3_CONTEXT,
            "a ratings object",
            page,
        ),
        (
            role,
            "s3:PutObject",
            facts.object("results", f"{RESULTS_RUNS_PREFIX}r/metrics.json"),
            S3_CONTEXT,
            "results",
            page,
        ),
        (
            role,
            "s3:ListBucket",
            f"arn:aws:s3:::{facts.buckets['results']}",
            {**S3_CONTEXT, "s3:prefix": RESULTS_RUNS_PREFIX},
            "aws s3 sync lists the destination",
            page,
        ),
    ]
    return rows


def _session_manager(facts: Facts) -> list[Row]:
    """The SSM Agent on the workstation, as its role: registering the instance and opening Session Manager's control
    and data channels (`make connect`)."""
    role = facts.roles["workstation"]
    actions = [
        "ssm:UpdateInstanceInformation",
        "ssmmessages:CreateControlChannel",
        "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel",
    ]
    return [(role, action, "*", {}, "Session Manager", SESSION_MANAGER) for action in actions]


def _submit(facts: Facts, launch: LaunchFacts) -> list[Row]:
    """The submitting role: the cleanup service-linked role EMR creates at an account's first cluster."""
    if facts.standing_cluster is not None:
        return []  # CloudFormation creates the standing cluster with the deployer's credentials
    role = facts.roles["submit"]
    cleanup = f"arn:aws:iam::{facts.account}:role/aws-service-role/{EMR}/AWSServiceRoleForEMRCleanup"
    return [
        (role, "iam:CreateServiceLinkedRole", cleanup, {"iam:AWSServiceName": EMR}, "the first cluster", EMR_CLEANUP)
    ]


def _services(facts: Facts, launch: LaunchFacts) -> list[Row]:
    """Services acting as themselves: publishing to the encrypted topic, and filling the dead-letter queues."""
    rows: list[Row] = []
    mine = {"aws:SourceAccount": facts.account}
    for service, page in (("budgets.amazonaws.com", BUDGETS_SNS), ("cloudwatch.amazonaws.com", SNS_SSE)):
        rows.append((service, "sns:Publish", facts.topic, mine, "an alert to the topic", page))
        for action in ("kms:GenerateDataKey", "kms:Decrypt"):
            rows.append((service, action, facts.topic_key, mine, "the topic's key", SNS_SSE))
    if launch.email_dead_letters is not None:
        from_topic = {"aws:SourceArn": facts.topic, "aws:SourceAccount": facts.account}
        rows.append(
            (
                "sns.amazonaws.com",
                "sqs:SendMessage",
                launch.email_dead_letters,
                from_topic,
                "an undelivered e-mail",
                SNS_DLQ,
            )
        )
        for action in ("kms:GenerateDataKey", "kms:Decrypt"):
            rows.append(("sns.amazonaws.com", action, facts.topic_key, mine, "the dead-letter queue's key", SNS_DLQ))
    for rule in launch.rules:
        from_rule = {"aws:SourceArn": rule}
        rows.append(
            (
                "events.amazonaws.com",
                "sqs:SendMessage",
                launch.dead_letters,
                from_rule,
                "an undelivered event",
                EVENTS_DLQ,
            )
        )
    return rows


def on_behalf(facts: Facts, deployment: Deployment) -> list[Request]:
    """Every request AWS makes for the lab that the lab's policies must allow, each naming its page."""
    launch = launch_facts(deployment)
    rows = [
        *_emr_service_role(facts, launch),
        *_nodes(facts, launch),
        *_workstation(facts, launch),
        *_session_manager(facts),
        *_submit(facts, launch),
        *_services(facts, launch),
    ]
    requests = [
        Request(principal, action, resource, {**BASE_CONTEXT, **context}, f"{what}: {page}")
        for principal, action, resource, context, what, page in rows
    ]
    return requests + run_job_flow_requests(facts, launch)


class _TemplateLookup:
    """What RunJobFlow's mapping asks a deployment, answered from the facts (the project's tags, the nodes' role)."""

    def __init__(self, facts: Facts) -> None:
        self.facts, self.account, self.region = facts, facts.account, facts.region

    def cluster_tags(self, cluster_id: str) -> dict[str, str]:
        return dict(self.facts.tags)

    def instance_tags(self, instance_id: str) -> dict[str, str]:
        return {}

    def instance_profile_role(self, profile: str) -> str:
        return self.facts.roles["nodes"]

    def topic_key_arn(self, topic_arn: str) -> str | None:
        return self.facts.topic_key


def run_job_flow_requests(facts: Facts, launch: LaunchFacts) -> list[Request]:
    """RunJobFlow exactly as submit_job sends it from the template (transient mode): everything it authorises,
    including what optional arguments need (an AutoTerminationPolicy needs PutAutoTerminationPolicy)."""
    if facts.standing_cluster is not None:
        return []
    call = Call("submit_job", "emr", "RunJobFlow", {**launch.job_flow, "Name": "ml-lab-run"}, {"JobFlowId": "j-1NEW"})
    return [
        dataclasses.replace(request, why=f"{request.why}: {RUN_JOB_FLOW}")
        for request in requests_for(call, facts.roles["submit"], _TemplateLookup(facts))
    ]
