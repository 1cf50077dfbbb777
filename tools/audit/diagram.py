"""An architecture diagram (Mermaid flowchart) generated from the synthesised templates, drawn as data flows.

    .venv/bin/python -m tools.audit.diagram --cdk-out cdk.out      print it
    .venv/bin/python -m tools.audit.diagram --readme README.md      rewrite README's diagrams (make diagram)

Nodes are what a reader cares about (buckets, tables, queues, topics, functions, EventBridge rules, clusters,
instances, budgets) and the person using the lab ("you"); a box per stack, and inside it a box per VPC around what
runs in it. A transient EMR cluster is in no template: it is drawn, dashed, wherever a role may ``RunJobFlow``,
with the roles that role may pass to it. Edges point the way data and events go, across stacks too
(``Fn::ImportValue`` is followed to the exporting stack's resource):

* ``==>`` events: S3 notifications to their targets, EventBridge rules to theirs, a service's events (EMR state
  changes) to the rules that match them, budget alerts to their topic, e-mail subscriptions to the person;
* ``-->`` data: what IAM policies let a node read (resource to reader) or write (writer to resource), labelled
  with the object keys where the policy names them; the upload and the results the stacks' outputs hand the
  person; access logs, flow logs, failed invocations and undelivered events;
* ``-.->`` control: launching, adding steps to, stopping and terminating, as IAM policies allow; the person's
  Session Manager shell.

Edges are listed in reading order: the person's first, then the data path as it flows from them, then the
plumbing (logs and failure queues, and the edges into them), drawn lighter. ``tools/audit/network_diagram.py``
draws the network of each mode beside it.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.audit.assembly import CloudAssembly, StackTemplate, as_list, imports, load_assembly, references, render

# Mermaid shape (open, close) -> the resource types drawn with it, and what each is called.
_SHAPES: dict[tuple[str, str], dict[str, str]] = {
    ("[(", ")]"): {  # cylinders: where data rests
        "AWS::S3::Bucket": "S3 bucket",
        "AWS::DynamoDB::Table": "DynamoDB table",
        "AWS::DynamoDB::GlobalTable": "DynamoDB table",
        "AWS::SQS::Queue": "SQS queue",
    },
    ("([", "])"): {"AWS::SNS::Topic": "SNS topic"},
    ("[[", "]]"): {"AWS::Lambda::Function": "Lambda function", "AWS::StepFunctions::StateMachine": "state machine"},
    ("{{", "}}"): {"AWS::Events::Rule": "EventBridge rule", "AWS::Scheduler::Schedule": "EventBridge schedule"},
    ("[/", "/]"): {"AWS::EMR::Cluster": "EMR cluster, standing", "AWS::EC2::Instance": "EC2 instance"},
    ("[", "]"): {"AWS::Budgets::Budget": "AWS budget"},
}
# type -> (what it is, mermaid shape open, close)
NODE_TYPES: dict[str, tuple[str, str, str]] = {
    resource_type: (kind, *shape) for shape, kinds in _SHAPES.items() for resource_type, kind in kinds.items()
}
_CDK_INTERNAL = re.compile(r"Custom::|BucketNotificationsHandler|LogRetention|AWS679f53fac002430cb0da5b7982bd2287")
TRANSIENT_CLUSTER = "emr_transient_cluster"
USER = "you"  # the person using the lab: drawn where the stacks' outputs hand them a command or a location
ARROWS = {"event": "==>", "data": "-->", "control": "-.->"}
# Plumbing (logs, failure queues) drawn lighter: grey boxes and thin grey edges.
PLUMBING_STYLE = "fill:#f6f6f6,stroke:#aaa,color:#777"
PLUMBING_LINK_STYLE = "stroke:#aaa,stroke-width:1px"
_MAKE_TARGET = re.compile(r"\bmake [a-z][a-z-]*")

# Actions that move data, and an example of each, so that wildcards (``s3:*``, ``*``) count as what they allow.
_READS = ("s3:GetObject", "dynamodb:GetItem", "dynamodb:Query", "sqs:ReceiveMessage")
_WRITES = (
    "s3:PutObject",
    "s3:DeleteObject",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "sqs:SendMessage",
    "sns:Publish",
)
_CONTROL = {
    "elasticmapreduce:RunJobFlow": "launches",
    "elasticmapreduce:AddJobFlowSteps": "adds steps",
    "elasticmapreduce:TerminateJobFlows": "terminates",
    "ec2:StartInstances": "starts",
    "ec2:StopInstances": "stops",
    "ec2:TerminateInstances": "terminates",
    "lambda:InvokeFunction": "invokes",
    "states:StartExecution": "starts",
}
# What a control action acts on when its resource is a pattern (``cluster/*``) rather than a reference.
_CONTROLLED_TYPES = {"elasticmapreduce": "AWS::EMR::Cluster", "ec2": "AWS::EC2::Instance"}
# The event sources of EventBridge patterns, and the nodes that emit them.
_EVENT_SOURCES = {"aws.emr": "AWS::EMR::Cluster", "aws.ec2": "AWS::EC2::Instance", "aws.s3": "AWS::S3::Bucket"}
_ROLE_PROPERTIES = ("Role", "ServiceRole", "JobFlowRole", "IamInstanceProfile", "ExecutionRoleArn", "RoleArn")
_NETWORK_PROPERTIES = ("VpcConfig", "SubnetId", "NetworkInterfaces", "SecurityGroupIds", "Instances")

Key = tuple[str, str]  # (stack id, logical id): a resource of the assembly


@dataclass
class _Node:
    id: str
    label: str
    kind: str
    shape: tuple[str, str]
    resource_type: str
    vpc: Key | None = None
    roles: set[Key] = field(default_factory=set)

    def line(self) -> str:
        return f'{self.id}{self.shape[0]}"{self.label}<br/><i>{self.kind}</i>"{self.shape[1]}'


def _mermaid_id(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", "_".join(parts))


def _label_of(stack: StackTemplate, logical_id: str) -> str:
    path = stack.path_of(logical_id)
    path = path.split("/", 1)[1] if "/" in path else path
    return re.sub(r"/(Resource|Default)$", "", path).replace('"', "#quot;")


def _allows(action: str, examples: tuple[str, ...]) -> bool:
    """Whether an IAM action (wildcards as IAM reads them, case-insensitive) covers one of the examples."""
    pattern = re.escape(action.lower()).replace(r"\*", ".*").replace(r"\?", ".")
    return any(re.fullmatch(pattern, example.lower()) for example in examples)


def _object_keys(value: Any) -> str:
    """``outcomes/*`` from ``Fn::Join ["", [<bucket arn>, "/outcomes/*"]]``: the key pattern after the bucket."""
    if isinstance(value, dict) and isinstance(value.get("Fn::Join"), list) and len(value["Fn::Join"]) == 2:
        items = value["Fn::Join"][1]
        if isinstance(items, list) and items and isinstance(items[-1], str) and not isinstance(items[0], str):
            return items[-1].lstrip("/")
    return ""


class _Diagram:
    def __init__(self, assembly: CloudAssembly) -> None:
        self.assembly = assembly
        self.stacks = {stack.artifact_id: stack for stack in assembly.stacks}
        self.exports = assembly.exports()
        self.handoffs = assembly.handoffs()
        self.nodes: dict[Key, _Node] = {}
        self.vpcs: dict[Key, str] = {}  # VPC -> its subgraph id
        # (source id, target id, style) -> labels, in the order found
        self.edges: dict[tuple[str, str, str], list[str]] = {}
        self.grants: dict[tuple[str, Key], dict[str, set[str]]] = {}  # (node id, resource) -> verb -> key patterns
        self.plumbing_targets: set[str] = set()  # where logs and failures go: their edges are drawn lighter

    # ------------------------------------------------------------------ resolving references
    def resolve(self, stack: StackTemplate, value: Any) -> set[Key]:
        """Resources ``value`` refers to, in this stack (Ref, GetAtt, Sub) or another (Fn::ImportValue, or a template
        parameter read from an SSM parameter another stack writes)."""
        found = {(stack.artifact_id, name) for name in references(value) if name in stack.resources}
        for name in references(value):
            if (stack.artifact_id, name) in self.handoffs:
                writer, written = self.handoffs[(stack.artifact_id, name)]
                found |= self.resolve(writer, written)
        for export in imports(value):
            if export in self.exports:
                exporter, exported = self.exports[export]
                found |= {(exporter.artifact_id, name) for name in references(exported) if name in exporter.resources}
        return found

    def resource(self, key: Key) -> dict[str, Any]:
        return self.stacks[key[0]].resources.get(key[1]) or {}

    def properties(self, key: Key) -> dict[str, Any]:
        return self.resource(key).get("Properties") or {}

    def of_type(self, keys: set[Key], *types: str) -> set[Key]:
        return {key for key in keys if self.resource(key).get("Type") in types}

    def roles(self, stack: StackTemplate, value: Any) -> set[Key]:
        """IAM roles behind ``value``: roles themselves, or the roles of instance profiles."""
        found = self.of_type(self.resolve(stack, value), "AWS::IAM::Role")
        for profile in self.of_type(self.resolve(stack, value), "AWS::IAM::InstanceProfile"):
            for role in as_list(self.properties(profile).get("Roles")):
                found |= self.of_type(self.resolve(self.stacks[profile[0]], role), "AWS::IAM::Role")
        return found

    def vpc_of(self, stack: StackTemplate, value: Any) -> Key | None:
        for network in sorted(self.of_type(self.resolve(stack, value), "AWS::EC2::Subnet", "AWS::EC2::SecurityGroup")):
            vpcs = self.of_type(
                self.resolve(self.stacks[network[0]], self.properties(network).get("VpcId")), "AWS::EC2::VPC"
            )
            if vpcs:
                return min(vpcs)
        return None

    # ------------------------------------------------------------------ nodes and edges
    def add_edge(self, source: str, target: str, style: str, label: str, *, plumbing: bool = False) -> None:
        """An edge (``plumbing``: what keeps the lab auditable and recoverable, drawn lighter: access and flow logs,
        failed invocations, undelivered events, and their destinations)."""
        if source != target:
            labels = self.edges.setdefault((source, target, style), [])
            if label and label not in labels:
                labels.append(label)
            if plumbing:
                self.plumbing_targets.add(target)

    def collect_nodes(self) -> None:
        for stack in self.assembly.stacks:
            for logical_id, resource in stack.resources.items():
                kind = NODE_TYPES.get(resource.get("Type", ""))
                if kind is None or _CDK_INTERNAL.search(stack.path_of(logical_id)):
                    continue
                properties = resource.get("Properties") or {}
                service = ((properties.get("Environment") or {}).get("Variables") or {}).get("POWERTOOLS_SERVICE_NAME")
                node = _Node(
                    id=_mermaid_id(stack.artifact_id, _label_of(stack, logical_id)),
                    label=_label_of(stack, logical_id),
                    kind=f"{kind[0]} {service}" if isinstance(service, str) else kind[0],
                    shape=(kind[1], kind[2]),
                    resource_type=resource["Type"],
                    roles=set().union(*(self.roles(stack, properties.get(name)) for name in _ROLE_PROPERTIES)),
                )
                node.vpc = self.vpc_of(stack, [properties.get(name) for name in _NETWORK_PROPERTIES])
                if resource["Type"] == "AWS::Events::Rule" and "ScheduleExpression" in properties:
                    node.kind = "EventBridge schedule"
                self.nodes[(stack.artifact_id, logical_id)] = node
        for stack in self.assembly.stacks:
            for logical_id, _ in stack.of_type("AWS::EC2::VPC"):
                self.vpcs[(stack.artifact_id, logical_id)] = _mermaid_id(
                    stack.artifact_id, _label_of(stack, logical_id)
                )

    def add_transient_cluster(self) -> None:
        """The cluster a role may launch with RunJobFlow, with the roles it may pass, where its subnets are."""
        for key, node in list(self.nodes.items()):
            for role in node.roles:
                for statement in self.statements(role):
                    if "elasticmapreduce:RunJobFlow" not in statement["actions"]:
                        continue
                    cluster = self.nodes.setdefault(
                        ("", TRANSIENT_CLUSTER),
                        _Node(
                            TRANSIENT_CLUSTER,
                            "EMR cluster, transient",
                            "one per job, in no template",
                            ("[/", "/]"),
                            "AWS::EMR::Cluster",
                        ),
                    )
                    stack = self.stacks[key[0]]
                    for passing in self.statements(role):
                        if "iam:PassRole" in passing["actions"]:
                            cluster.roles |= self.of_type(
                                self.resolve(self.stacks[role[0]], passing["resources"]), "AWS::IAM::Role"
                            )
                    cluster.vpc = cluster.vpc or self.vpc_of(stack, self.properties(key).get("Environment"))

    def statements(self, role: Key) -> list[dict[str, Any]]:
        """Allow statements of a role: inline, and in policies and managed policies of its stack naming it."""
        stack = self.stacks[role[0]]
        documents = [policy.get("PolicyDocument") for policy in as_list(self.properties(role).get("Policies"))]
        for _, policy in stack.of_type("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            properties = policy.get("Properties") or {}
            if role in self.resolve(stack, properties.get("Roles")):
                documents.append(properties.get("PolicyDocument"))
        found = []
        for document in documents:
            for statement in as_list((document or {}).get("Statement")):
                if isinstance(statement, dict) and statement.get("Effect") == "Allow":
                    found.append(
                        {
                            "actions": [a for a in as_list(statement.get("Action")) if isinstance(a, str)],
                            "resources": as_list(statement.get("Resource")),
                            "stack": stack,
                        }
                    )
        return found

    def add_grants(self) -> None:
        """Data and control edges from what each node's roles may do to other nodes."""
        for key, node in self.nodes.items():
            for role in sorted(node.roles):
                for statement in self.statements(role):
                    self.add_statement(key, node, statement)

    def add_statement(self, key: Key, node: _Node, statement: dict[str, Any]) -> None:
        """Records the reads and writes a statement grants to ``node``; draws the control it grants."""
        for action in statement["actions"]:
            verbs = [verb for verb, examples in (("reads", _READS), ("writes", _WRITES)) if _allows(action, examples)]
            control = _CONTROL.get(action)
            for resource in statement["resources"]:
                targets = {t for t in self.resolve(statement["stack"], resource) if t in self.nodes}
                for verb in verbs:
                    for target in targets:
                        patterns = self.grants.setdefault((node.id, target), {}).setdefault(verb, set())
                        patterns.add(_object_keys(resource))
                if control and not verbs:
                    if not targets and "*" in str(resource):  # a pattern such as cluster/*: whatever it can match
                        wanted = _CONTROLLED_TYPES.get(action.split(":", 1)[0])
                        targets = {k for k, n in self.nodes.items() if n.resource_type == wanted and k != key}
                    for target in targets:
                        self.add_edge(node.id, self.nodes[target].id, "control", control)

    def add_data_edges(self) -> None:
        for (holder, target), verbs in self.grants.items():
            resource = self.nodes[target]
            keys = ", ".join(sorted({pattern for patterns in verbs.values() for pattern in patterns if pattern}))
            if "reads" in verbs and "writes" in verbs:
                self.add_edge(holder, resource.id, "both", keys or "reads, writes")
            elif "reads" in verbs:
                self.add_edge(resource.id, holder, "data", keys or "read")
            elif keys or (holder, resource.id, "data") not in self.edges:  # else a destination already says it
                written = "publishes" if resource.resource_type == "AWS::SNS::Topic" else "writes"
                self.add_edge(holder, resource.id, "data", keys or written)

    def node_ids(self, stack: StackTemplate, value: Any) -> list[str]:
        return [self.nodes[key].id for key in sorted(self.resolve(stack, value)) if key in self.nodes]

    def add_wiring(self) -> None:
        """Edges declared by the resources that connect others: notifications, rules, destinations, logs, alerts."""
        for stack in self.assembly.stacks:
            for logical_id, resource in stack.resources.items():
                wire = _WIRING.get(resource.get("Type", ""))
                if wire:
                    key = (stack.artifact_id, logical_id)
                    own = self.nodes[key].id if key in self.nodes else None
                    wire(self, stack, own, resource.get("Properties") or {})

    def _wire_custom_notifications(self, stack: StackTemplate, _: str | None, properties: dict[str, Any]) -> None:
        buckets = self.node_ids(stack, properties.get("BucketName"))
        self.add_notifications(stack, buckets, properties.get("NotificationConfiguration"))

    def _wire_bucket(self, stack: StackTemplate, own: str | None, properties: dict[str, Any]) -> None:
        if own is None:
            return
        self.add_notifications(stack, [own], properties.get("NotificationConfiguration"))
        destination = (properties.get("LoggingConfiguration") or {}).get("DestinationBucketName")
        for logs in self.node_ids(stack, destination):
            self.add_edge(own, logs, "data", "access logs", plumbing=True)

    def _wire_rule(self, stack: StackTemplate, own: str | None, properties: dict[str, Any]) -> None:
        if own is not None:
            self.add_rule(stack, own, properties)

    def _wire_invoke_config(self, stack: StackTemplate, _: str | None, properties: dict[str, Any]) -> None:
        destinations = properties.get("DestinationConfig") or {}
        for function in self.node_ids(stack, properties.get("FunctionName")):
            for outcome, label in (("OnFailure", "failed invocations"), ("OnSuccess", "results")):
                for target in self.node_ids(stack, (destinations.get(outcome) or {}).get("Destination")):
                    self.add_edge(function, target, "data", label, plumbing=outcome == "OnFailure")

    def _wire_event_source(self, stack: StackTemplate, _: str | None, properties: dict[str, Any]) -> None:
        for source in self.node_ids(stack, properties.get("EventSourceArn")):
            for function in self.node_ids(stack, properties.get("FunctionName")):
                self.add_edge(source, function, "event", "records")

    def _wire_subscription(self, stack: StackTemplate, _: str | None, properties: dict[str, Any]) -> None:
        for topic in self.node_ids(stack, properties.get("TopicArn")):
            if properties.get("Protocol") in ("email", "email-json", "sms"):  # a person reads these
                self.add_edge(topic, USER, "event", f"alerts by {properties['Protocol']}")
            for target in self.node_ids(stack, properties.get("Endpoint")):
                self.add_edge(topic, target, "event", "messages")

    def _wire_budget(self, stack: StackTemplate, own: str | None, properties: dict[str, Any]) -> None:
        for notification in as_list(properties.get("NotificationsWithSubscribers")):
            for subscriber in as_list((notification or {}).get("Subscribers")):
                for topic in self.node_ids(stack, (subscriber or {}).get("Address")):
                    if own is not None:
                        self.add_edge(own, topic, "event", "alerts")

    def _wire_flow_log(self, stack: StackTemplate, _: str | None, properties: dict[str, Any]) -> None:
        for vpc in self.of_type(self.resolve(stack, properties.get("ResourceId")), "AWS::EC2::VPC"):
            for target in self.node_ids(stack, properties.get("LogDestination")):
                self.add_edge(self.vpcs[vpc], target, "data", "flow logs", plumbing=True)

    def add_user_paths(self) -> None:
        """The person using the lab, from what the stacks hand them (their outputs): the upload command, the
        results' location, the Session Manager command; each labelled with the make target its description names."""
        for stack in self.assembly.stacks:
            outputs = (stack.template.get("Outputs") or {}).values()
            targets: dict[str, str] = {}  # node -> the make target an output's description names for it
            for output in outputs:
                found = _MAKE_TARGET.search(str(output.get("Description") or ""))
                if found:
                    for node in self.node_ids(stack, output.get("Value")):
                        targets.setdefault(node, found.group(0))
            for output in outputs:
                text = render(output.get("Value"))
                for node in self.node_ids(stack, output.get("Value")):
                    how = f" ({targets[node]})" if node in targets else ""
                    if text.startswith("aws s3 cp ") and "s3://" in text.split()[-1]:
                        self.add_edge(USER, node, "data", f"uploads ratings{how}")
                    elif text.startswith("aws ssm start-session"):
                        self.add_edge(USER, node, "control", f"Session Manager shell{how}")
                    elif text.startswith("s3://") and "/runs/" in text:
                        self.add_edge(node, USER, "data", f"results{how}")

    def add_notifications(self, stack: StackTemplate, buckets: list[str], configuration: Any) -> None:
        """``ObjectCreated ratings/ *.data *.csv`` edges from each bucket to each notified function, queue, topic."""
        filters: dict[str, dict[str, list[str]]] = {}  # target -> "events prefix" -> suffixes
        for kind, arn in (
            ("LambdaFunctionConfigurations", "LambdaFunctionArn"),
            ("QueueConfigurations", "QueueArn"),
            ("TopicConfigurations", "TopicArn"),
        ):
            for item in as_list((configuration or {}).get(kind)):
                key_filter = ((item.get("Filter") or {}).get("Key") or {}).get("FilterRules")
                rules = {rule.get("Name"): rule.get("Value") for rule in as_list(key_filter)}
                events = "/".join(sorted({str(e).split(":")[1] for e in as_list(item.get("Events")) if ":" in str(e)}))
                for target in self.node_ids(stack, item.get(arn)):
                    suffixes = filters.setdefault(target, {}).setdefault(f"{events} {rules.get('prefix') or ''}", [])
                    suffixes.append(f"*{rules.get('suffix') or ''}")
        for target, groups in filters.items():
            label = ", ".join(f"{head} {' '.join(suffixes)}" for head, suffixes in groups.items())
            for bucket in buckets:
                self.add_edge(bucket, target, "event", label)

    def add_rule(self, stack: StackTemplate, rule: str, properties: dict[str, Any]) -> None:
        pattern = properties.get("EventPattern") or {}
        label = (
            properties.get("ScheduleExpression")
            or ", ".join(map(str, as_list(pattern.get("detail-type"))))
            or "matching events"
        )
        for target in [*as_list(properties.get("Targets")), properties.get("Target")]:
            if not isinstance(target, dict):
                continue
            for invoked in self.node_ids(stack, target.get("Arn")):
                self.add_edge(rule, invoked, "event", str(label) if "ScheduleExpression" in properties else "invokes")
            for queue in self.node_ids(stack, (target.get("DeadLetterConfig") or {}).get("Arn")):
                self.add_edge(rule, queue, "data", "undelivered events", plumbing=True)
        emitters = {_EVENT_SOURCES[source] for source in as_list(pattern.get("source")) if source in _EVENT_SOURCES}
        for node in self.nodes.values():
            if node.resource_type in emitters:
                self.add_edge(node.id, rule, "event", str(label))

    # ------------------------------------------------------------------ output
    def render(self) -> str:
        """The flowchart: the person first, a box per stack (a box per VPC inside), then the edges in reading
        order: the person's, the data path's, and last the plumbing's, drawn lighter."""
        lines = ["flowchart LR"]
        if any(USER in (source, target) for source, target, _ in self.edges):
            lines.append(f'  {USER}(("you"))')
        for stack in self.assembly.stacks:
            lines += self.render_stack(stack)
        floating = [node for key, node in self.nodes.items() if key[0] == "" and node.vpc is None]
        lines += [f"  {node.line()}" for node in floating]
        distance = self.distances()
        ordered = sorted(self.edges.items(), key=lambda item: (self.edge_rank(item[0]), distance.get(item[0][0], 99)))
        for (source, target, style), labels in ordered:
            arrow = "<-->" if style == "both" else ARROWS[style]
            label = "; ".join(labels).replace('"', "#quot;")
            lines.append(f'  {source} {arrow}|"{label}"| {target}' if label else f"  {source} {arrow} {target}")
        if ("", TRANSIENT_CLUSTER) in self.nodes:
            lines.append(f"  style {TRANSIENT_CLUSTER} stroke-dasharray: 5 5")
        lighter = [str(index) for index, (key, _) in enumerate(ordered) if self.edge_rank(key) == 2]
        if lighter:
            plumbing = sorted(self.plumbing_targets)
            lines += [
                f"  classDef plumbing {PLUMBING_STYLE}",
                f"  class {','.join(plumbing)} plumbing",
                f"  linkStyle {','.join(lighter)} {PLUMBING_LINK_STYLE}",
            ]
        return "\n".join(lines)

    def render_stack(self, stack: StackTemplate) -> list[str]:
        lines = [f'  subgraph {_mermaid_id(stack.artifact_id)}["{stack.artifact_id} stack: {stack.stack_name}"]']
        members = [
            node
            for key, node in self.nodes.items()
            if key[0] == stack.artifact_id or (key[0] == "" and node.vpc and node.vpc[0] == stack.artifact_id)
        ]
        lines += [f"    {node.line()}" for node in members if node.vpc is None]
        for vpc, vpc_id in self.vpcs.items():
            if vpc[0] == stack.artifact_id:
                lines.append(f'    subgraph {vpc_id}["{_label_of(stack, vpc[1])}: VPC"]')
                lines += [f"      {node.line()}" for node in members if node.vpc == vpc]
                lines.append("    end")
        return [*lines, "  end"]

    def distances(self) -> dict[str, int]:
        """How many edges from the person each node is, along the data path (so edges are listed as data flows)."""
        found = {USER: 0}
        frontier = [USER]
        while frontier:
            following = []
            for node in frontier:
                for source, target, style in self.edges:
                    reached = target if source == node else source if style == "both" and target == node else None
                    if reached and reached not in found and self.edge_rank((source, target, style)) < 2:
                        found[reached] = found[node] + 1
                        following.append(reached)
            frontier = following
        return found

    def edge_rank(self, edge: tuple[str, str, str]) -> int:
        """0: the person's edges, 1: the data path, 2: plumbing (into or out of where logs and failures go)."""
        source, target, _ = edge
        if USER in (source, target):
            return 0
        return 2 if source in self.plumbing_targets or target in self.plumbing_targets else 1


def mermaid(assembly: CloudAssembly) -> str:
    """The diagram's Mermaid source; the same assembly always gives the same text."""
    drawing = _Diagram(assembly)
    drawing.collect_nodes()
    drawing.add_transient_cluster()
    drawing.add_user_paths()
    drawing.add_wiring()
    drawing.add_grants()
    drawing.add_data_edges()
    return drawing.render()


# Resource type -> the method that draws the edges it declares between other resources.
_WIRING: dict[str, Callable[[_Diagram, StackTemplate, str | None, dict[str, Any]], None]] = {
    "Custom::S3BucketNotifications": _Diagram._wire_custom_notifications,
    "AWS::S3::Bucket": _Diagram._wire_bucket,
    "AWS::Events::Rule": _Diagram._wire_rule,
    "AWS::Scheduler::Schedule": _Diagram._wire_rule,
    "AWS::Lambda::EventInvokeConfig": _Diagram._wire_invoke_config,
    "AWS::Lambda::EventSourceMapping": _Diagram._wire_event_source,
    "AWS::SNS::Subscription": _Diagram._wire_subscription,
    "AWS::Budgets::Budget": _Diagram._wire_budget,
    "AWS::EC2::FlowLog": _Diagram._wire_flow_log,
}


# ---------------------------------------------------------------------------------------------- README copies
README_BEGIN = "<!-- architecture diagram: generated by `make diagram` from the default settings; do not edit -->"
README_END = "<!-- end of the generated architecture diagram -->"
NETWORK_BEGIN = (
    "<!-- network diagram: generated by `make diagram` from each network mode's default settings; do not edit -->"
)
NETWORK_END = "<!-- end of the generated network diagram -->"


def readme_diagram(readme: str, begin: str = README_BEGIN, end: str = README_END) -> str | None:
    """The Mermaid source between a pair of README's markers, or None when the markers are missing."""
    match = re.search(re.escape(begin) + r"\n```mermaid\n(.*?)\n?```\n" + re.escape(end), readme, re.S)
    return match.group(1) if match else None


def with_diagram(readme: str, diagram: str, begin: str, end: str) -> str:
    """README with the diagram between the markers replaced."""
    start, stop = readme.index(begin), readme.index(end) + len(end)
    return f"{readme[:start]}{begin}\n```mermaid\n{diagram}\n```\n{end}{readme[stop:]}"


def readme_diagrams() -> tuple[str, str]:
    """(architecture, network): the default settings' architecture and both network modes, synthesised."""
    from tools.audit.modes import synthesised_modes
    from tools.audit.network_diagram import network_mermaid

    with synthesised_modes() as modes:
        return mermaid(modes["public"][0]), network_mermaid({mode: assembly for mode, (assembly, _) in modes.items()})


def write_readme(path: Path) -> int:
    """Rewrites README's two generated diagrams; says whether the file changed. 2 when a pair of markers is missing."""
    text = path.read_text()
    for begin, end in ((README_BEGIN, README_END), (NETWORK_BEGIN, NETWORK_END)):
        if readme_diagram(text, begin, end) is None:
            print(f"diagram: {path} has no generated diagram block ({begin} ... {end})", file=sys.stderr)
            return 2
    architecture, network = readme_diagrams()
    updated = with_diagram(
        with_diagram(text, architecture, README_BEGIN, README_END), network, NETWORK_BEGIN, NETWORK_END
    )
    if updated == text:
        print(f"diagram: {path} unchanged")
        return 0
    path.write_text(updated)
    print(f"diagram: {path} updated from the templates")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.audit.diagram", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--cdk-out", type=Path, default=Path("cdk.out"), help="print the diagram of this assembly")
    where.add_argument(
        "--readme", type=Path, help="rewrite this file's two generated diagrams (both network modes, synthesised)"
    )
    args = parser.parse_args(argv)
    if args.readme is not None:
        return write_readme(args.readme)
    print(mermaid(load_assembly(args.cdk_out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
