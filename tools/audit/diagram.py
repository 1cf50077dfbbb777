"""An architecture diagram (Mermaid flowchart) generated from the synthesised templates.

Nodes are the resources a reader cares about; edges come from Refs / GetAtts / Subs between them, from the
IAM policies of the roles they run as (``IAM``), from Lambda permissions and S3 notifications, from VPC
placement (through subnets and security groups) and, across stacks, from ``Fn::ImportValue`` matched to exports.
"""

from __future__ import annotations

import re
from typing import Any

from tools.audit.assembly import CloudAssembly, StackTemplate, as_list, imports, references

# type -> (short label, mermaid shape open, close)
NODE_TYPES: dict[str, tuple[str, str, str]] = {
    "AWS::S3::Bucket": ("S3 bucket", "[(", ")]"),
    "AWS::DynamoDB::Table": ("DynamoDB table", "[(", ")]"),
    "AWS::DynamoDB::GlobalTable": ("DynamoDB table", "[(", ")]"),
    "AWS::SQS::Queue": ("SQS queue", "[(", ")]"),
    "AWS::SNS::Topic": ("SNS topic", "([", "])"),
    "AWS::Lambda::Function": ("Lambda", "[[", "]]"),
    "AWS::Events::Rule": ("EventBridge rule", "{{", "}}"),
    "AWS::Scheduler::Schedule": ("schedule", "{{", "}}"),
    "AWS::EMR::Cluster": ("EMR cluster", "[/", "/]"),
    "AWS::EMR::SecurityConfiguration": ("EMR security configuration", "[", "]"),
    "AWS::EC2::Instance": ("EC2 instance", "[/", "/]"),
    "AWS::EC2::VPC": ("VPC", "[", "]"),
    "AWS::Budgets::Budget": ("budget", "[", "]"),
    "AWS::StepFunctions::StateMachine": ("state machine", "[[", "]]"),
}
# Resources looked through to find what a node really talks to.
_ROLE_LINKS = ("Role", "ServiceRole", "JobFlowRole", "IamInstanceProfile", "ExecutionRoleArn", "RoleArn")
_NETWORK = ("AWS::EC2::Subnet", "AWS::EC2::SecurityGroup")
_CDK_INTERNAL = re.compile(r"Custom::|BucketNotificationsHandler|LogRetention|AWS679f53fac002430cb0da5b7982bd2287")


def _node_id(stack: StackTemplate, logical_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", f"{stack.artifact_id}_{logical_id}")


def _label(stack: StackTemplate, logical_id: str) -> str:
    path = stack.path_of(logical_id)
    path = path.split("/", 1)[1] if "/" in path else path
    path = re.sub(r"/(Resource|Default)$", "", path)
    return path.replace('"', "'")


def _is_node(stack: StackTemplate, logical_id: str) -> bool:
    resource = stack.resources.get(logical_id) or {}
    return resource.get("Type") in NODE_TYPES and not _CDK_INTERNAL.search(stack.path_of(logical_id))


def _roles_of(stack: StackTemplate, properties: dict[str, Any]) -> set[str]:
    roles: set[str] = set()
    for key in _ROLE_LINKS:
        for name in references(properties.get(key)):
            resource = stack.resources.get(name) or {}
            if resource.get("Type") == "AWS::IAM::Role":
                roles.add(name)
            elif resource.get("Type") == "AWS::IAM::InstanceProfile":
                for role in as_list((resource.get("Properties") or {}).get("Roles")):
                    roles |= {r for r in references(role) if stack.resources.get(r, {}).get("Type") == "AWS::IAM::Role"}
    return roles


def _policy_documents(stack: StackTemplate, role: str) -> list[Any]:
    documents = []
    role_properties = (stack.resources.get(role) or {}).get("Properties") or {}
    for policy in as_list(role_properties.get("Policies")):
        documents.append(policy.get("PolicyDocument"))
    for arn in as_list(role_properties.get("ManagedPolicyArns")):
        for name in references(arn):
            if stack.resources.get(name, {}).get("Type") == "AWS::IAM::ManagedPolicy":
                documents.append((stack.resources[name].get("Properties") or {}).get("PolicyDocument"))
    for _, resource in stack.of_type("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        properties = resource.get("Properties") or {}
        if role in {name for value in as_list(properties.get("Roles")) for name in references(value)}:
            documents.append(properties.get("PolicyDocument"))
    return documents


def _vpcs_through_network(stack: StackTemplate, properties: dict[str, Any]) -> set[str]:
    vpcs: set[str] = set()
    for name in references(properties):
        resource = stack.resources.get(name) or {}
        if resource.get("Type") in _NETWORK:
            vpcs |= {
                v
                for v in references((resource.get("Properties") or {}).get("VpcId"))
                if stack.resources.get(v, {}).get("Type") == "AWS::EC2::VPC"
            }
    return vpcs


def mermaid(assembly: CloudAssembly) -> str:
    exports = assembly.exports()
    lines = ["flowchart LR"]
    edges: dict[tuple[str, str], str] = {}

    def add(source: str, target: str, label: str) -> None:
        if source != target and (source, target) not in edges:
            edges[(source, target)] = label

    for stack in assembly.stacks:
        nodes = [logical_id for logical_id in stack.resources if _is_node(stack, logical_id)]
        lines.append(f'  subgraph {_node_id(stack, "stack")}["{stack.stack_name}"]')
        for logical_id in nodes:
            kind, open_, close = NODE_TYPES[stack.resources[logical_id]["Type"]]
            lines.append(
                f'    {_node_id(stack, logical_id)}{open_}"{_label(stack, logical_id)}<br/><i>{kind}</i>"{close}'
            )
        lines.append("  end")
        for logical_id in nodes:
            properties = stack.resources[logical_id].get("Properties") or {}
            source = _node_id(stack, logical_id)
            for name in references(properties):
                if _is_node(stack, name):
                    add(source, _node_id(stack, name), "ref")
            documents = [
                document for role in _roles_of(stack, properties) for document in _policy_documents(stack, role)
            ]
            for name in references(documents):
                if _is_node(stack, name):
                    add(source, _node_id(stack, name), "IAM")
            for vpc in _vpcs_through_network(stack, properties):
                add(source, _node_id(stack, vpc), "in")
            for label, value in (("import", properties), ("IAM, import", documents)):
                for export in imports(value):
                    if export not in exports:
                        continue
                    exporter, exported = exports[export]
                    for name in references(exported):
                        if _is_node(exporter, name):
                            add(source, _node_id(exporter, name), label)
        # Attachments that point at their owner: the owner is the edge's source.
        for resource in stack.resources.values():
            resource_type, properties = resource.get("Type"), resource.get("Properties") or {}
            if resource_type == "AWS::Lambda::Permission":
                pairs = [
                    (references(properties.get("SourceArn")), references(properties.get("FunctionName")), "invokes")
                ]
            elif resource_type == "AWS::SNS::Subscription":
                pairs = [(references(properties.get("TopicArn")), references(properties.get("Endpoint")), "notifies")]
            elif resource_type == "AWS::Lambda::EventSourceMapping":
                pairs = [
                    (
                        references(properties.get("EventSourceArn")),
                        references(properties.get("FunctionName")),
                        "triggers",
                    )
                ]
            elif resource_type == "Custom::S3BucketNotifications":
                pairs = [
                    (
                        references(properties.get("BucketName")),
                        references(properties.get("NotificationConfiguration")),
                        "notifies",
                    )
                ]
            else:
                continue
            for sources, targets, label in pairs:
                for a in sources:
                    for b in targets:
                        if _is_node(stack, a) and _is_node(stack, b):
                            add(_node_id(stack, a), _node_id(stack, b), label)
    # Transient clusters are not in any template: draw one, launched by what uses the EMR security configuration.
    has_cluster = any(True for stack in assembly.stacks for _ in stack.of_type("AWS::EMR::Cluster"))
    configurations = {
        _node_id(stack, logical_id)
        for stack in assembly.stacks
        for logical_id, _ in stack.of_type("AWS::EMR::SecurityConfiguration")
    }
    if not has_cluster and configurations:
        lines.append(
            '  transient_emr_cluster[/"EMR cluster, transient<br/><i>launched per job, not in a template</i>"/]'
        )
        lines.append("  style transient_emr_cluster stroke-dasharray: 5 5")
        for source, target in list(edges):
            if target in configurations:
                add(source, "transient_emr_cluster", "launches")
                add("transient_emr_cluster", target, "uses")
    for (source, target), label in edges.items():
        arrow = "-.->" if "import" in label else "-->"
        lines.append(f"  {source} {arrow}|{label}| {target}")
    return "\n".join(lines)
