"""Network exposure: every security group ingress rule, and everything that gives or routes public addresses."""

from __future__ import annotations

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


def exposure(assembly: CloudAssembly) -> dict[str, Any]:
    ingress, public = [], []
    for stack in assembly.stacks:
        for logical_id, resource in stack.resources.items():
            kind = resource.get("Type")
            properties = resource.get("Properties") or {}
            if kind == "AWS::EC2::SecurityGroup":
                for rule in as_list(properties.get("SecurityGroupIngress")):
                    ingress.append(_row(stack, logical_id, stack.path_of(logical_id), rule))
            elif kind == "AWS::EC2::SecurityGroupIngress":
                ingress.append(_row(stack, logical_id, render(properties.get("GroupId", "?")), properties))
            elif kind == "AWS::EC2::Subnet" and properties.get("MapPublicIpOnLaunch") in (True, "true"):
                public.append(_public(stack, logical_id, "subnet maps public IPs on launch"))
            elif kind == "AWS::EC2::Instance":
                for interface in as_list(properties.get("NetworkInterfaces")):
                    if interface.get("AssociatePublicIpAddress") in (True, "true"):
                        public.append(_public(stack, logical_id, "instance associates a public IP"))
            elif kind == "AWS::EC2::LaunchTemplate":
                data = properties.get("LaunchTemplateData") or {}
                for interface in as_list(data.get("NetworkInterfaces")):
                    if interface.get("AssociatePublicIpAddress") in (True, "true"):
                        public.append(_public(stack, logical_id, "launch template associates a public IP"))
            elif kind == "AWS::EC2::EIP":
                public.append(_public(stack, logical_id, "Elastic IP"))
            elif kind == "AWS::EC2::InternetGateway":
                public.append(_public(stack, logical_id, "internet gateway"))
            elif kind == "AWS::EC2::EgressOnlyInternetGateway":
                public.append(_public(stack, logical_id, "egress-only internet gateway (IPv6 outbound)"))
            elif kind == "AWS::EC2::NatGateway":
                public.append(_public(stack, logical_id, "NAT gateway (outbound internet)"))
            elif kind == "AWS::Lambda::Url":
                public.append(_public(stack, logical_id, f"Lambda function URL, auth {properties.get('AuthType')}"))
            elif kind == "AWS::Lambda::Permission" and render(properties.get("Principal")) == "*":
                public.append(_public(stack, logical_id, "Lambda permission for any principal"))
            elif kind == "AWS::S3::Bucket":
                block = properties.get("PublicAccessBlockConfiguration") or {}
                keys = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
                missing = [key for key in keys if block.get(key) not in (True, "true")]
                if missing:
                    public.append(_public(stack, logical_id, f"bucket public access block off: {', '.join(missing)}"))
    return {"ingress": ingress, "public": public}


def _public(stack: StackTemplate, logical_id: str, what: str) -> dict[str, Any]:
    return {"stack": stack.stack_name, "resource": logical_id, "path": stack.path_of(logical_id), "what": what}
