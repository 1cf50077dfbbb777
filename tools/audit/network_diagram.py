"""The network of a deployment, drawn small: what runs in each VPC and every way out of it, one box per network mode.

Generated from the templates like the architecture diagram (``tools/audit/diagram.py``, whose nodes and VPC
placement it reuses): the instances and clusters in the VPC; an internet gateway or NAT gateway (and the public
addresses the subnets map) where the subnets route to the internet; each interface endpoint (the AWS APIs reached
privately, billed by the hour) and each gateway endpoint (S3, free). Where nothing routes out, the diagram has no
internet node: isolated mode reaches only the services its endpoints name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tools.audit.assembly import CloudAssembly, StackTemplate, render
from tools.audit.diagram import _Diagram, _mermaid_id

ENDPOINT_STYLE = "fill:#eef5ff,stroke:#5b8bd6"


def _service(value: Any) -> str:
    """``kms`` from ``com.amazonaws.eu-west-2.kms`` (or its ``Fn::Join`` with the region)."""
    return re.sub(r"^.*\.", "", render(value))


def _ways_out(stack: StackTemplate) -> dict[str, list[str]]:
    """What routes traffic out of the stack's VPCs: gateways to the internet, interface and gateway endpoints."""
    found: dict[str, list[str]] = {"internet": [], "interface": [], "gateway": []}
    for resource in stack.resources.values():
        kind, properties = resource.get("Type"), resource.get("Properties") or {}
        if kind == "AWS::EC2::InternetGateway":
            found["internet"].append("internet gateway")
        elif kind == "AWS::EC2::NatGateway":
            found["internet"].append("NAT gateway")
        elif kind == "AWS::EC2::VPCEndpoint":
            endpoint = "interface" if properties.get("VpcEndpointType") == "Interface" else "gateway"
            found[endpoint].append(_service(properties.get("ServiceName")))
    return found


def mode_lines(mode: str, assembly: CloudAssembly) -> list[str]:
    """One network mode's box: the VPC with what runs in it and its endpoints, the ways out beside it."""
    drawing = _Diagram(assembly)
    drawing.collect_nodes()
    drawing.add_transient_cluster()
    box = _mermaid_id(mode)
    lines = [f'  subgraph {box}["network_mode {mode}"]']
    edges = []
    for stack in assembly.stacks:
        vpcs = [key for key in drawing.vpcs if key[0] == stack.artifact_id]
        if not vpcs:
            continue
        inside = [node for node in drawing.nodes.values() if node.vpc in vpcs]
        ways = _ways_out(stack)
        vpc = f"{box}_vpc"
        names = [f"{box}_{node.id}" for node in inside]
        lines.append(f'    subgraph {vpc}["VPC, {_subnets(stack)}"]')
        lines += [f'      {box}_{node.id}{node.shape[0]}"{node.label}"{node.shape[1]}' for node in inside]
        if ways["interface"]:
            lines.append(f'      {box}_endpoints{{{{"interface endpoints: {", ".join(ways["interface"])}"}}}}')
            edges += [f'    {name} -->|"AWS APIs, privately"| {box}_endpoints' for name in names]
        for service in ways["gateway"]:
            label = service.upper() if service == "s3" else service
            lines.append(f'      {box}_{service}_gateway{{{{"{label} gateway endpoint"}}}}')
            edges += [f'    {name} -->|"{label}"| {box}_{service}_gateway' for name in names]
        lines.append("    end")
        for gateway in ways["internet"]:
            node = f"{box}_{_mermaid_id(gateway)}"
            lines.append(f'    {node}(["{gateway}"])')
            edges += [
                f'    {name} -->|"AWS APIs and the internet, from public IPv4 addresses"| {node}' for name in names
            ]
            edges.append(f'    {node} --> {box}_internet(("internet"))')
    return [*lines, *edges, "  end"]


def _subnets(stack: StackTemplate) -> str:
    subnets = [resource.get("Properties") or {} for _, resource in stack.of_type("AWS::EC2::Subnet")]
    public = sum(1 for subnet in subnets if subnet.get("MapPublicIpOnLaunch") in (True, "true"))
    if public == len(subnets):
        return f"{len(subnets)} public subnets"
    return f"{len(subnets) - public} isolated subnets" + (f", {public} public" if public else "")


def network_mermaid(modes: Mapping[str, CloudAssembly]) -> str:
    """The network diagram's Mermaid source, one box per mode (the same assemblies always give the same text)."""
    lines = ["flowchart LR"]
    for mode, assembly in modes.items():
        lines += mode_lines(mode, assembly)
    endpoints = [f"{_mermaid_id(mode)}_endpoints" for mode, assembly in modes.items() if _has_endpoints(assembly)]
    if endpoints:
        lines += [f"  classDef endpoint {ENDPOINT_STYLE}", f"  class {','.join(endpoints)} endpoint"]
    return "\n".join(lines)


def _has_endpoints(assembly: CloudAssembly) -> bool:
    return any(_ways_out(stack)["interface"] for stack in assembly.stacks)
