"""Network exposure: every security group ingress rule, and everything that gives or routes public addresses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tools.audit.assembly import CloudAssembly, StackTemplate, as_list, render

_ANYWHERE = ("0.0.0.0/0", "::/0")


def _ports(rule: dict[str, Any]) -> str:
    protocol = str(render(rule.get("IpProtocol", "?")))
    if protocol in ("-1", "all"):
        return "all traffic"
    start, end = rule.get("FromPort"), rule.get("ToPort")
    if start is None and end is None:
        return protocol
    start, end = render(start), render(end)
    return f"{protocol} {start}" if start == end else f"{protocol} {start}-{end}"


def _source(rule: dict[str, Any]) -> str:
    for key in ("CidrIp", "CidrIpv6", "SourceSecurityGroupId", "SourcePrefixListId", "SourceSecurityGroupName"):
        if key in rule:
            return f"{key}={render(rule[key])}"
    return "?"


def _row(stack: StackTemplate, logical_id: str, group: str, rule: dict[str, Any]) -> dict[str, Any]:
    source = _source(rule)
    return {
        "stack": stack.stack_name,
        "resource": logical_id,
        "path": stack.path_of(logical_id),
        "group": group,
        "ports": _ports(rule),
        "source": source,
        "description": render(rule.get("Description", "")),
        "from_internet": any(source.endswith("=" + cidr) for cidr in _ANYWHERE),
    }


def _associates_public_ip(interfaces: Any) -> bool:
    return any((interface or {}).get("AssociatePublicIpAddress") in (True, "true") for interface in as_list(interfaces))


def _bucket_block(properties: dict[str, Any]) -> str | None:
    block = properties.get("PublicAccessBlockConfiguration") or {}
    keys = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
    missing = [key for key in keys if block.get(key) not in (True, "true")]
    return f"bucket public access block off: {', '.join(missing)}" if missing else None


# Resource type -> what makes it public (None when this one is not), from its properties.
_PUBLIC: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "AWS::EC2::Subnet": lambda p: (
        "subnet maps public IPs on launch" if p.get("MapPublicIpOnLaunch") in (True, "true") else None
    ),
    "AWS::EC2::Instance": lambda p: (
        "instance associates a public IP" if _associates_public_ip(p.get("NetworkInterfaces")) else None
    ),
    "AWS::EC2::LaunchTemplate": lambda p: (
        "launch template associates a public IP"
        if _associates_public_ip((p.get("LaunchTemplateData") or {}).get("NetworkInterfaces"))
        else None
    ),
    "AWS::EC2::EIP": lambda _: "Elastic IP",
    "AWS::EC2::InternetGateway": lambda _: "internet gateway",
    "AWS::EC2::EgressOnlyInternetGateway": lambda _: "egress-only internet gateway (IPv6 outbound)",
    "AWS::EC2::NatGateway": lambda _: "NAT gateway (outbound internet)",
    "AWS::Lambda::Url": lambda p: f"Lambda function URL, auth {p.get('AuthType')}",
    "AWS::Lambda::Permission": lambda p: (
        "Lambda permission for any principal" if render(p.get("Principal")) == "*" else None
    ),
    "AWS::S3::Bucket": _bucket_block,
}


def exposure(assembly: CloudAssembly) -> dict[str, Any]:
    """Every security group ingress rule, and everything that gives or routes public addresses."""
    ingress, public = [], []
    for stack in assembly.stacks:
        for logical_id, resource in stack.resources.items():
            kind = resource.get("Type", "")
            properties = resource.get("Properties") or {}
            if kind == "AWS::EC2::SecurityGroup":
                for rule in as_list(properties.get("SecurityGroupIngress")):
                    ingress.append(_row(stack, logical_id, stack.path_of(logical_id), rule))
            elif kind == "AWS::EC2::SecurityGroupIngress":
                ingress.append(_row(stack, logical_id, render(properties.get("GroupId", "?")), properties))
            elif kind in _PUBLIC and (what := _PUBLIC[kind](properties)):
                public.append(_public(stack, logical_id, what))
    return {"ingress": ingress, "public": public}


def _public(stack: StackTemplate, logical_id: str, what: str) -> dict[str, Any]:
    return {"stack": stack.stack_name, "resource": logical_id, "path": stack.path_of(logical_id), "what": what}
