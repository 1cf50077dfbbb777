"""The lifecycle test's check of the deployed network mode, and of the isolated workstation's wheelhouse asset."""

from __future__ import annotations

import json
from typing import Any

import lifecycle_support as lifecycle


def network_mode_of(cluster_mode: str) -> str:
    """The network mode each cluster-mode deployment uses: both modes are deployed without a third deployment."""
    return lifecycle.CLUSTER_MODE_CONTEXT[cluster_mode].get("network_mode", "public")


def cdk_json_context() -> dict[str, Any]:
    return json.loads((lifecycle.ROOT / "cdk.json").read_text())["context"]


def wheelhouse_asset(assembly: lifecycle.Assembly) -> tuple[str, str] | None:
    """(bucket, key) the CDK CLI publishes the workstation's wheelhouse to: the zip asset whose source directory
    holds a wheelhouse manifest; None when the app has none (public network mode)."""
    for manifest_file in assembly.outdir.glob("*.assets.json"):
        for asset in json.loads(manifest_file.read_text()).get("files", {}).values():
            source = asset["source"]
            if source.get("packaging") == "zip" and (assembly.outdir / source["path"] / "manifest.json").exists():
                [destination] = asset["destinations"].values()
                bucket = destination["bucketName"].replace("${AWS::AccountId}", lifecycle.ACCOUNT)
                return bucket.replace("${AWS::Region}", lifecycle.REGION), destination["objectKey"]
    return None


def check_network(clients: Any, assembly: lifecycle.Assembly, vpc_ids: list[str], network_mode: str) -> dict[str, Any]:
    """public: an internet gateway attached, no interface endpoint; isolated: no gateway, five interface endpoints,
    and the wheelhouse asset where the workstation's first boot reads it. Returns what it saw.

    moto creates subnets without the template's MapPublicIpOnLaunch, so which subnets give public IPs is read from
    the templates (tests/stacks/test_network_modes.py asserts the same)."""
    vpcs = [{"Name": "vpc-id", "Values": vpc_ids}]
    gateways = clients.ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": vpc_ids}])
    endpoints = clients.ec2.describe_vpc_endpoints(Filters=vpcs)["VpcEndpoints"]
    subnets = [r for stack in assembly.stacks for r in stack.resources.values() if r["Type"] == "AWS::EC2::Subnet"]
    seen = {
        "internet_gateways": len(gateways["InternetGateways"]),
        "interface_endpoints": sum(1 for e in endpoints if e["VpcEndpointType"] == "Interface"),
        "template_subnets_with_public_ips": sum(1 for s in subnets if s["Properties"]["MapPublicIpOnLaunch"]),
    }
    asset = wheelhouse_asset(assembly)
    if network_mode == "public":
        assert seen == {
            "internet_gateways": 1,
            "interface_endpoints": 0,
            "template_subnets_with_public_ips": len(subnets),
        }, seen
        assert asset is None
    else:
        assert seen == {"internet_gateways": 0, "interface_endpoints": 5, "template_subnets_with_public_ips": 0}, seen
        assert asset is not None, "isolated app without a wheelhouse asset"
        clients.s3.head_object(Bucket=asset[0], Key=asset[1])  # published by `cdk deploy` before the stacks
        seen["wheelhouse_asset"] = f"s3://{asset[0]}/{asset[1]}"
    return seen
