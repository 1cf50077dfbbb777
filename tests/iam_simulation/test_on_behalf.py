"""What AWS does on the lab's behalf is allowed by the synthesised templates' policies (tools/iam_simulation/
on_behalf.py: EMR's service role launching encrypted clusters, the nodes, the workstation, the submitting role's
share of RunJobFlow, the services that publish to the encrypted topic and fill the dead-letter queues), in both
cluster modes and with the e-mail subscription; and each of issue 21's defects 3, 4 and 5 is caught by it."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from tests.iam_simulation.test_least_privilege import deployed_app
from tools.iam_simulation.deployment import Deployment
from tools.iam_simulation.on_behalf import on_behalf
from tools.iam_simulation.simulator import simulate

WITH_EMAIL = {"notification_email": "me@example.com"}


def denied(deployment: Deployment, facts) -> list[str]:
    return [verdict.line() for verdict in simulate(on_behalf(facts, deployment), deployment) if not verdict.allowed]


@pytest.mark.parametrize("cluster_mode", ["transient", "standing"])
def test_every_request_aws_makes_for_the_lab_is_allowed(synth, cluster_mode: str) -> None:
    deployment, facts = deployed_app(synth(cluster_mode=cluster_mode, **WITH_EMAIL))
    requests = on_behalf(facts, deployment)
    assert denied(deployment, facts) == []
    principals = {request.principal.rsplit("/", 1)[-1] for request in requests}
    assert {
        "budgets.amazonaws.com",
        "cloudwatch.amazonaws.com",
        "sns.amazonaws.com",
        "events.amazonaws.com",
    } <= principals
    unsourced = [r.why for r in requests if not re.search(r": [^:]+\((.+ )?(Guide|Reference)\)", r.why)]
    assert unsourced == [], "each request names the page it comes from"
    assert len(requests) >= 40


def _policies_of(deployment: Deployment, role_prefix: str) -> list[dict[str, Any]]:
    return [
        resource["Properties"]["PolicyDocument"]
        for template in deployment.templates
        for logical_id, resource in template.resources.items()
        if resource["Type"] == "AWS::IAM::Policy" and logical_id.startswith(role_prefix)
    ]


def _without(deployment: Deployment, role_prefix: str, action: str) -> Deployment:
    """The deployment with ``action`` taken out of every statement of one role's policies."""
    changed = copy.deepcopy(deployment)
    for policy in _policies_of(changed, role_prefix):
        for statement in policy["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            statement["Action"] = [name for name in actions if name != action] or ["none:None"]
    return changed


@pytest.mark.parametrize(
    ("role_prefix", "action", "what"),
    [
        # defect 3: EBS encryption with the security configuration's key
        ("SparkServiceRole", "kms:GenerateDataKeyWithoutPlaintext", "an encrypted EBS volume"),
        ("SparkServiceRole", "kms:CreateGrant", "EC2's grant for the volume"),
        ("SparkServiceRole", "iam:PassRole", "the instance profile's role"),
        # defect 4: the cleanup service-linked role at an account's first cluster
        ("JobsSubmitJobServiceRole", "iam:CreateServiceLinkedRole", "the first cluster"),
        ("SparkInstanceRole", "s3:PutObject", "the logs"),
        ("WorkstationRole", "s3:ListBucket", "aws s3 sync lists the destination"),
    ],
)
def test_a_missing_permission_is_caught(synth, role_prefix: str, action: str, what: str) -> None:
    deployment, facts = deployed_app(synth(**WITH_EMAIL))
    caught = denied(_without(deployment, role_prefix, action), facts)
    assert any(action in line and what in line for line in caught), caught


def test_an_auto_termination_policy_sent_with_run_job_flow_needs_its_permission(synth) -> None:
    """defect 5: a transient cluster's RunJobFlow carries no AutoTerminationPolicy (it would do nothing there);
    one added back is a PutAutoTerminationPolicy the submitting role is not granted, and the check says so."""
    app = synth(**WITH_EMAIL)
    assert "AutoTerminationPolicy" not in app.stacks.compute.spark.job_flow_template
    deployment, facts = deployed_app(app)
    for template in deployment.templates:
        for logical_id, resource in template.resources.items():
            if logical_id.startswith("JobsSubmitJob") and resource["Type"] == "AWS::Lambda::Function":
                variables = resource["Properties"]["Environment"]["Variables"]
                joined = variables["JOB_FLOW_TEMPLATE"]["Fn::Join"][1]
                joined[0] = joined[0].replace("{", '{"AutoTerminationPolicy":{"IdleTimeout":3600},', 1)
    assert any("PutAutoTerminationPolicy" in line for line in denied(deployment, facts))
