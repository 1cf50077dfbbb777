"""Lookups the lifecycle test makes in a deployment, and the sample it uploads (test_lifecycle.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

import lifecycle_support as lifecycle

from stacks.settings import Settings

ROOT = lifecycle.ROOT
SAMPLE = ROOT / "spark_jobs" / "sample_data" / "u.data"
SAMPLE_ROWS = 20_000  # enough for ALS to be meaningful, small enough for local[2] in seconds


def sample_ratings() -> bytes:
    """The first SAMPLE_ROWS rows of the bundled MovieLens-format sample (u.data: user, item, rating, time)."""
    if not SAMPLE.exists():  # a checkout without the sample data: small deterministic rows of the same format
        return "".join(
            f"{u}\t{i}\t{1 + (u * i) % 5}\t88{u:04d}{i:04d}\n" for u in range(1, 51) for i in range(1, 41)
        ).encode()
    with SAMPLE.open("rb") as sample:
        return b"".join(line for _, line in zip(range(SAMPLE_ROWS), sample, strict=False))


def deployed_settings(cluster_mode: str = "transient") -> Settings:
    """The settings the lifecycle synth used: cdk.json's, with the mode's context."""
    context = {**json.loads((ROOT / "cdk.json").read_text())["context"], **lifecycle.CLUSTER_MODE_CONTEXT[cluster_mode]}
    return Settings.from_context(context.get)


def name_prefix() -> str:
    return deployed_settings().name_prefix


def stack_with(
    deployed: dict[str, lifecycle.DeployedStack], logical_prefix: str, resource_type: str
) -> lifecycle.DeployedStack:
    found = [
        s
        for s in deployed.values()
        if any(lid.startswith(logical_prefix) and r["Type"] == resource_type for lid, r in s.stack.resources.items())
    ]
    assert len(found) == 1, f"{len(found)} stacks have a {resource_type} {logical_prefix}*"
    return found[0]


def physical_ids_of(deployed: dict[str, lifecycle.DeployedStack], resource_type: str) -> set[str]:
    return {
        pid
        for s in deployed.values()
        for lid, pid in s.physical_ids.items()
        if s.stack.resources[lid]["Type"] == resource_type
    }


def deployed_function(
    assembly: lifecycle.Assembly, deployed: dict[str, lifecycle.DeployedStack], contract: tuple[str, ...]
) -> str:
    found = assembly.functions_with_env(*contract)
    assert len(found) == 1, f"{len(found)} functions have the environment {contract}"
    stack, logical_id = found[0]
    return deployed[stack.stack_name].physical_ids[logical_id]


def events_fn_arn(clients: lifecycle.Clients, function_name: str) -> str:
    return clients.lambda_.get_function_configuration(FunctionName=function_name)["FunctionArn"]


def rule_targets_for(clients: lifecycle.Clients, event: dict[str, Any]) -> set[str]:
    """ARNs targeted by the emulator's EventBridge rules whose pattern matches ``event``.

    moto 5.2 does not implement TestEventPattern; its own matcher (what its PutEvents routing uses) decides."""
    from moto.events.models import EventPattern

    targets: set[str] = set()
    for page in clients.events.get_paginator("list_rules").paginate():
        for rule in page["Rules"]:
            pattern = rule.get("EventPattern")
            if not pattern or rule.get("State") != "ENABLED":
                continue
            if EventPattern.load(pattern).matches_event(event):
                for target in clients.events.list_targets_by_rule(Rule=rule["Name"])["Targets"]:
                    targets.add(target["Arn"])
    return targets


def find_step(clients: lifecycle.Clients, step_name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    matches = []
    for summary in clients.emr.list_clusters()["Clusters"]:
        for step in clients.emr.list_steps(ClusterId=summary["Id"])["Steps"]:
            if step["Name"] == step_name:
                matches.append((clients.emr.describe_cluster(ClusterId=summary["Id"])["Cluster"], step))
    assert len(matches) == 1, f"{len(matches)} EMR steps named {step_name}"
    return matches[0]


def option(args: list[str], name: str) -> str:
    assert args.count(name) == 1, f"{name} appears {args.count(name)} times in {args}"
    return args[args.index(name) + 1]


def s3_parts(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    assert parsed.scheme == "s3", uri
    return parsed.netloc, parsed.path.lstrip("/")


def s3_property_gaps(clients: lifecycle.Clients, deployed: dict[str, lifecycle.DeployedStack]) -> set[str]:
    """Bucket properties the template sets but the emulator's bucket does not have."""
    from botocore.exceptions import ClientError

    def read(call: Any, **kwargs: Any) -> Any:
        try:
            return call(**kwargs)
        except ClientError:
            return None

    def property_checks(s3: Any, bucket: str, props: dict[str, Any]) -> dict[str, Callable[[], bool]]:
        return {
            "VersioningConfiguration": lambda: (
                read(s3.get_bucket_versioning, Bucket=bucket).get("Status")
                == props["VersioningConfiguration"]["Status"]
            ),
            "BucketEncryption": lambda: read(s3.get_bucket_encryption, Bucket=bucket) is not None,
            "PublicAccessBlockConfiguration": lambda: (
                (read(s3.get_public_access_block, Bucket=bucket) or {}).get("PublicAccessBlockConfiguration")
                == props["PublicAccessBlockConfiguration"]
            ),
            "LifecycleConfiguration": lambda: read(s3.get_bucket_lifecycle_configuration, Bucket=bucket) is not None,
            "LoggingConfiguration": lambda: "LoggingEnabled" in (read(s3.get_bucket_logging, Bucket=bucket) or {}),
            "OwnershipControls": lambda: read(s3.get_bucket_ownership_controls, Bucket=bucket) is not None,
        }

    gaps: set[str] = set()
    for stack in deployed.values():
        for lid, resource in stack.stack.resources.items():
            if resource["Type"] != "AWS::S3::Bucket" or lid not in stack.physical_ids:
                continue
            bucket = stack.physical_ids[lid]
            props = resource.get("Properties", {})
            checks = property_checks(clients.s3, bucket, props)
            for prop, check in checks.items():
                if prop in props and not check():
                    gaps.add(prop)
            gaps.update(p for p in props if p not in checks and p not in {"Tags", "BucketName"})
    return gaps
