"""The written forbidden list (tools/iam_simulation/expectations.py) is denied, and its controls allowed, by the
policies of the synthesised templates, evaluated with @cloud-copilot/iam-simulate, in both cluster modes.

The physical names are made up here (the emulated lifecycle test checks the same list against a deployment's
real names, and every call the functions make there): the policies and their conditions are the templates'.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from lab_contract.modes import CLUSTER_MODES
from lab_contract.names import EMR_MANAGED_POLICY_TAG
from tools.iam_simulation.deployment import DeployedTemplate, Deployment
from tools.iam_simulation.expectations import Facts, controls, facts_of, forbidden
from tools.iam_simulation.on_behalf import FactsLookup
from tools.iam_simulation.requests import Call, Unmapped, requests_for
from tools.iam_simulation.simulator import simulate

ACCOUNT = "123456789012"
REGION = "eu-west-2"


def made_up_id(stack: str, logical_id: str, resource_type: str) -> str:
    """A physical id of the shape CloudFormation gives that resource type."""
    name = f"{stack}-{logical_id}"[:60]
    return {
        "AWS::SNS::Topic": f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}",
        "AWS::SQS::Queue": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}",
        "AWS::EC2::Instance": "i-0123456789abcdef0",
        "AWS::EMR::Cluster": "j-1STANDING000",
    }.get(resource_type, name)


def deployment_of(app: Any) -> Deployment:
    templates = [
        DeployedTemplate(
            stack_name=name,
            template=template,
            physical_ids={
                logical_id: made_up_id(name, logical_id, resource["Type"])
                for logical_id, resource in template["Resources"].items()
            },
        )
        for name, template in app.templates.items()
    ]
    return Deployment(templates=templates, account=ACCOUNT, region=REGION)


def deployed_app(app: Any) -> tuple[Deployment, Facts]:
    deployment = deployment_of(app)
    return deployment, facts_of(deployment, app.settings.tags)


@pytest.mark.parametrize("cluster_mode", CLUSTER_MODES)
def test_every_forbidden_request_is_denied_and_every_control_allowed(synth, cluster_mode: str) -> None:
    deployment, facts = deployed_app(synth(cluster_mode=cluster_mode))
    must_deny, must_allow = forbidden(facts), controls(facts)
    verdicts = simulate(must_deny + must_allow, deployment)
    wrong = [v.line() for v in verdicts[: len(must_deny)] if v.allowed]
    wrong += [v.line() for v in verdicts[len(must_deny) :] if not v.allowed]
    assert wrong == []
    assert len(must_deny) >= 35 and len(must_allow) >= 10


def test_the_check_catches_the_over_grant_the_review_found(synth) -> None:
    """The submit role's former AddTags statement (Resource "*", only project and stage request tags) lets it tag
    any EMR resource; the forbidden list must say so."""
    deployment, facts = deployed_app(synth())
    former = copy.deepcopy(deployment)
    policy = next(
        resource["Properties"]["PolicyDocument"]
        for template in former.templates
        for logical_id, resource in template.resources.items()
        if logical_id.startswith("JobsSubmitJobServiceRoleDefaultPolicy")
    )
    tags = {f"aws:RequestTag/{key}": facts.tags[key] for key in ("project", "stage")}
    policy["Statement"].append(
        {"Effect": "Allow", "Action": "elasticmapreduce:AddTags", "Resource": "*", "Condition": {"StringEquals": tags}}
    )
    verdicts = simulate(forbidden(facts), former)
    over_granted = sorted(v.request.why for v in verdicts if v.allowed)
    assert over_granted == ["AddTags in another account", "AddTags of another tag key", "AddTags on an EMR Studio"]


def function_calls(facts: Facts) -> list[Call]:
    """The calls the three functions make in transient mode, as the lifecycle test records them."""
    table = facts.table.rsplit("/", 1)[-1]
    # RunJobFlow's tags as JOB_FLOW_TEMPLATE holds them: the project's and the v2 service policy's.
    tags = [{"Key": key, "Value": value} for key, value in {**facts.tags, EMR_MANAGED_POLICY_TAG: "true"}.items()]
    run = {"Name": "x", "Tags": tags, "ServiceRole": facts.roles["emr_service"].rsplit("/", 1)[-1], "JobFlowRole": "p"}
    return [
        Call("submit_job", "emr", "ListClusters", {"CreatedAfter": "2026-11-25T09:15:00Z"}),
        Call("submit_job", "emr", "RunJobFlow", run, {"JobFlowId": "j-1NEW"}),
        *(Call("submit_job", "dynamodb", op, {"TableName": table}) for op in ("PutItem", "UpdateItem", "DeleteItem")),
        Call("emr_events", "s3", "PutObject", {"Bucket": facts.buckets["results"], "Key": "outcomes/r/e.json"}),
        Call("emr_events", "sns", "Publish", {"TopicArn": facts.topic}),
        Call("spend_guard", "emr", "ListClusters", {}),
        Call("spend_guard", "emr", "DescribeCluster", {"ClusterId": "j-1NEW"}),
        Call("spend_guard", "emr", "ListSteps", {"ClusterId": "j-1NEW"}),
        Call("spend_guard", "emr", "TerminateJobFlows", {"JobFlowIds": ["j-1NEW"]}),
        Call("spend_guard", "ec2", "DescribeInstances", {"InstanceIds": [facts.workstation]}),
        Call("spend_guard", "ec2", "StopInstances", {"InstanceIds": [facts.workstation]}),
    ]


def test_recorded_calls_become_the_requests_aws_authorises_and_a_missing_grant_is_caught(synth) -> None:
    deployment, facts = deployed_app(synth())
    principal = {
        "submit_job": facts.roles["submit"],
        "emr_events": facts.roles["events"],
        "spend_guard": facts.roles["guard"],
    }
    lookup = FactsLookup(facts)
    requests = [r for call in function_calls(facts) for r in requests_for(call, principal[call.function], lookup)]
    actions = {r.action for r in requests}
    assert {"iam:PassRole", "elasticmapreduce:AddTags", "kms:GenerateDataKey", "kms:Decrypt"} <= actions
    assert all(verdict.allowed for verdict in simulate(requests, deployment)), [
        v.line() for v in simulate(requests, deployment) if not v.allowed
    ]

    without_listing = copy.deepcopy(deployment)
    for template in without_listing.templates:
        for logical_id, resource in template.resources.items():
            if logical_id.startswith("JobsSubmitJobServiceRoleDefaultPolicy"):
                statements = resource["Properties"]["PolicyDocument"]["Statement"]
                for statement in statements:
                    if isinstance(statement["Action"], list) and "elasticmapreduce:ListClusters" in statement["Action"]:
                        statement["Action"].remove("elasticmapreduce:ListClusters")
                statements[:] = [s for s in statements if s["Action"] != "elasticmapreduce:ListClusters"]
    denied = [v.request.why for v in simulate(requests, without_listing) if not v.allowed]
    assert denied == ["submit_job: ListClusters"]


def test_a_call_without_a_reviewed_mapping_fails_the_check(synth) -> None:
    _, facts = deployed_app(synth())
    with pytest.raises(Unmapped, match="submit_job: no IAM mapping for emr TerminateJobFlowsNow"):
        requests_for(Call("submit_job", "emr", "TerminateJobFlowsNow", {}), "arn:aws:iam::1:role/r", FactsLookup(facts))
