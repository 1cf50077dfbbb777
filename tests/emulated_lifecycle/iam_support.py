"""Least privilege in the lifecycle test: every AWS call the functions made against the emulator, evaluated as IAM
requests against the deployed roles' policies (from the synthesised templates, resolved with the names the
emulator gave), must be allowed; the written forbidden list must be denied. moto enforces no IAM, so this is
where the policies meet the calls (tools/iam_simulation)."""

from __future__ import annotations

from typing import Any

import lifecycle_support as lifecycle

from tools.iam_simulation.deployment import DeployedTemplate, Deployment
from tools.iam_simulation.expectations import controls, facts_of, forbidden
from tools.iam_simulation.requests import Call, Request, requests_for
from tools.iam_simulation.simulator import Verdict, simulate


class EmulatorLookup:
    """What the IAM requests of a call need beyond the call (tags, roles, keys), read from the emulator."""

    account = lifecycle.ACCOUNT
    region = lifecycle.REGION

    def __init__(self, clients: lifecycle.Clients) -> None:
        self.clients = clients

    def cluster_tags(self, cluster_id: str) -> dict[str, str]:
        cluster = self.clients.emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
        return {tag["Key"]: tag.get("Value", "") for tag in cluster.get("Tags", [])}

    def instance_tags(self, instance_id: str) -> dict[str, str]:
        reservations = self.clients.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
        return {tag["Key"]: tag["Value"] for tag in reservations[0]["Instances"][0].get("Tags", [])}

    def instance_profile_role(self, profile: str) -> str:
        name = profile.rsplit("/", 1)[-1]
        return str(
            self.clients.iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]["Roles"][0]["Arn"]
        )

    def topic_key_arn(self, topic_arn: str) -> str | None:
        key = self.clients.sns.get_topic_attributes(TopicArn=topic_arn)["Attributes"].get("KmsMasterKeyId")
        return str(self.clients.kms.describe_key(KeyId=key)["KeyMetadata"]["Arn"]) if key else None


def deployment_of(deployed: dict[str, lifecycle.DeployedStack]) -> Deployment:
    """The deployed stacks' templates with the physical ids the emulator gave their resources."""
    return Deployment(
        templates=[
            DeployedTemplate(stack.stack.stack_name, stack.stack.template, dict(stack.physical_ids))
            for stack in deployed.values()
        ],
        account=lifecycle.ACCOUNT,
        region=lifecycle.REGION,
    )


def function_roles(deployment: Deployment) -> dict[str, str]:
    """Each project function's execution role ARN, by its folder (the Powertools service name)."""
    roles = {}
    for deployed in deployment.templates:
        for resource in deployed.resources.values():
            properties = resource.get("Properties", {})
            folder = properties.get("Environment", {}).get("Variables", {}).get("POWERTOOLS_SERVICE_NAME")
            if resource["Type"] == "AWS::Lambda::Function" and folder:
                roles[folder] = str(deployment.resolve(deployed, properties["Role"]))
    return roles


def check_least_privilege(
    calls: list[Call], deployed: dict[str, lifecycle.DeployedStack], clients: lifecycle.Clients, tags: dict[str, str]
) -> dict[str, Any]:
    """Simulates the recorded calls (all must be allowed) and the forbidden list (all denied) and its controls
    (all allowed); returns the figures for the report, or raises AssertionError listing every wrong verdict."""
    deployment = deployment_of(deployed)
    roles = function_roles(deployment)
    lookup = EmulatorLookup(clients)
    recorded: list[Request] = []
    for call in calls:
        for request in requests_for(call, roles[call.function], lookup):
            if request not in recorded:
                recorded.append(request)
    facts = facts_of(deployment, tags)
    must_deny, must_allow = forbidden(facts), controls(facts)
    verdicts = simulate(recorded + must_deny + must_allow, deployment)
    of_calls = verdicts[: len(recorded)]
    of_forbidden = verdicts[len(recorded) : len(recorded) + len(must_deny)]
    of_controls = verdicts[len(recorded) + len(must_deny) :]
    wrong = [f"recorded call denied: {v.line()}" for v in of_calls if not v.allowed]
    wrong += [f"forbidden request allowed: {v.line()}" for v in of_forbidden if v.allowed]
    wrong += [f"control denied: {v.line()}" for v in of_controls if not v.allowed]
    assert not wrong, "\n".join(wrong)
    return {
        "calls_recorded": len(calls),
        "operations": sorted({f"{call.function}: {call.service}:{call.operation}" for call in calls}),
        "iam_requests_allowed": len(of_calls),
        "forbidden_denied": len(of_forbidden),
        "controls_allowed": len(of_controls),
        "verdicts": [v.line() for v in _sorted(of_calls)],
    }


def _sorted(verdicts: list[Verdict]) -> list[Verdict]:
    return sorted(verdicts, key=lambda v: (v.request.why, v.request.action, v.request.resource))
