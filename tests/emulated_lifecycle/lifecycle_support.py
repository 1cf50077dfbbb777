"""Support for the offline lifecycle test: the emulator process, the CDK CLI pointed at it, inventories.

Everything here talks to 127.0.0.1 only. Every subprocess gets an environment built by ``offline_env``: fake
credentials, ``AWS_ENDPOINT_URL`` on the emulator, no profile, config file, proxy or instance metadata lookups.
In-process boto3 sessions refuse any request that is not addressed to the loopback interface.
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from lab_contract.environments import EmrEventsEnvironment, SubmitJobEnvironment

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
CDK = ROOT / "node_modules" / ".bin" / "cdk"
EMULATOR_SCRIPT = Path(__file__).resolve().parent / "emulator_server.py"

ACCOUNT = "123456789012"  # moto's default account
REGION = "eu-west-2"
FAKE_KEY_ID = "testing"
FAKE_SECRET = "testing"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost"})
# Any "Custom::*" type and this one are Lambda-backed custom resources: moto records them but cannot run them.
CUSTOM_RESOURCE_TYPE = "AWS::CloudFormation::CustomResource"

_UNSUPPORTED_LOG = re.compile(r"No Moto CloudFormation support for (\S+)")


# ------------------------------------------------------------------------------------------- environment
# Trap: anything that tries to reach a non-loopback host goes to a closed local port and fails, offline.
PROXY_TRAP = {
    **dict.fromkeys(("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"), "http://127.0.0.1:9"),
    **dict.fromkeys(("NO_PROXY", "no_proxy"), "127.0.0.1,localhost"),
}
QUIET_TOOLS = {
    "CDK_DISABLE_VERSION_CHECK": "1",
    "CDK_DISABLE_CLI_TELEMETRY": "true",
    "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
}


def offline_env(endpoint: str, workdir: Path) -> dict[str, str]:
    """A subprocess environment that can only reach the emulator at ``endpoint`` (http://127.0.0.1:PORT)."""
    port = urlparse(endpoint).port
    env = {
        key: value
        for key, value in os.environ.items()
        # No real profile, credentials, role, SSO cache, endpoint or proxy may leak into the CLI.
        if not key.startswith(("AWS_", "CDK_")) and key.lower() not in {"http_proxy", "https_proxy", "all_proxy"}
    }
    env.update(
        PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        AWS_ENDPOINT_URL=endpoint,
        # The CDK CLI builds the stack's TemplateURL from this endpoint (see restUrlFromManifest in the CLI).
        # moto's CloudFormation only reads path-style URLs whose host is "localhost" or "s3*.amazonaws.com"
        # (cloudformation/utils.py get_stack_from_s3_url); for "127.0.0.1:PORT" it takes "127" as the bucket
        # name and ExecuteChangeSet fails with NoSuchBucket. The URL is only parsed by moto, never fetched.
        AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION=f"http://localhost:{port}",
        AWS_ACCESS_KEY_ID=FAKE_KEY_ID,
        AWS_SECRET_ACCESS_KEY=FAKE_SECRET,
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=str(workdir / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(workdir / "no-aws-credentials"),
        **PROXY_TRAP,
        **QUIET_TOOLS,
        JAVA_HOME=str(ROOT / ".venv" / "java-home"),
        # The CLI's user-level files (~/.cdk.json, ~/.cdk/ caches, ~/.aws/) are the work dir's, not the user's.
        HOME=str(workdir),
    )
    (workdir / ".cdk.json").write_text(json.dumps({"context": LOOKUP_CONTEXT}, indent=2))
    return env


def refuse_non_loopback(request: Any, **_: Any) -> None:
    """botocore ``before-send`` hook: a request to anything but the emulator is a test bug, never sent."""
    host = urlparse(request.url).hostname
    if host not in LOOPBACK_HOSTS:
        raise RuntimeError(
            f"lifecycle test safety net: refused a request to {request.url!r} (only 127.0.0.1 is allowed)"
        )


def loopback_session(endpoint: str) -> Any:
    import boto3

    session = boto3.Session(aws_access_key_id=FAKE_KEY_ID, aws_secret_access_key=FAKE_SECRET, region_name=REGION)
    session.events.register("before-send", refuse_non_loopback)
    return session


class Clients:
    """boto3 clients on the emulator, created on first use."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.session = loopback_session(endpoint)
        self._clients: dict[str, Any] = {}

    def __getattr__(self, service: str) -> Any:
        if service.startswith("_"):
            raise AttributeError(service)
        name = {"lambda_": "lambda"}.get(service, service)
        if name not in self._clients:
            self._clients[name] = self.session.client(name, endpoint_url=self.endpoint)
        return self._clients[name]


# ------------------------------------------------------------------------------------------- emulator
class Emulator:
    """moto server in a child process on 127.0.0.1:<free port>; ``stop()`` always leaves nothing running."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self.port: int | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> Emulator:
        log = self.log_path.open("wb")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_EC2_METADATA_DISABLED="true", AWS_ACCESS_KEY_ID=FAKE_KEY_ID, AWS_SECRET_ACCESS_KEY=FAKE_SECRET)
        self.process = subprocess.Popen(
            [sys.executable, str(EMULATOR_SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            cwd=ROOT,
            env=env,
        )
        log.close()
        deadline = time.monotonic() + timeout
        line = b""
        while time.monotonic() < deadline and not line.endswith(b"\n"):
            if self.process.poll() is not None:
                break
            ready, _, _ = select.select([self.process.stdout], [], [], 0.5)
            if ready:
                line += os.read(self.process.stdout.fileno(), 100)
        match = re.match(rb"PORT (\d+)\n", line)
        if not match:
            self.stop()
            raise RuntimeError(f"emulator did not start: {line!r}\n{self.log_tail()}")
        self.port = int(match.group(1))
        return self

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            try:
                process.stdin.close()  # the emulator exits at EOF on stdin
                process.wait(timeout=10)
            except (subprocess.TimeoutExpired, OSError):
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
        for stream in (process.stdin, process.stdout):
            if stream and not stream.closed:
                stream.close()

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def unsupported_types_logged(self) -> set[str]:
        return set(_UNSUPPORTED_LOG.findall(self.log_text()))


# ------------------------------------------------------------------------------------------- CDK CLI
def run_cdk(args: list[str], env: dict[str, str], *, timeout: float = 600) -> subprocess.CompletedProcess:
    """Runs the project's pinned CDK CLI; raises with its whole output when it fails."""
    command = [str(CDK), *args, "--no-notices", "--no-color"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise AssertionError(
            f"`cdk {' '.join(args)}` exited {result.returncode}\n--- stdout\n{result.stdout[-6000:]}"
            f"\n--- stderr\n{result.stderr[-6000:]}"
        )
    return result


# moto's zones for REGION, given as user-level context (``$HOME/.cdk.json``, HOME being the test's work dir):
# with it the CLI needs no availability-zones lookup at synth time (which would need credentials) and writes
# nothing into the project's cdk.context.json. (``-c`` cannot carry it: the key itself contains "=".)
AVAILABILITY_ZONES = [f"{REGION}a", f"{REGION}b", f"{REGION}c"]
LOOKUP_CONTEXT = {f"availability-zones:account={ACCOUNT}:region={REGION}": AVAILABILITY_ZONES}
CONTEXT_ARGS = ["-c", f"account={ACCOUNT}", "-c", f"region={REGION}"]


# The app's cluster modes (lab_contract/modes.py CLUSTER_MODES) and the extra context each emulated deployment uses:
# standing also has a Spot task fleet (AWS::EMR::InstanceFleetConfig) and the other network mode (network_support).
CLUSTER_MODE_CONTEXT: dict[str, dict[str, str]] = {
    "transient": {},  # the default settings: the public network mode
    "standing": {"cluster_mode": "standing", "emr_task_spot_instance_count": "1", "network_mode": "isolated"},
}


def synth(outdir: Path, env: dict[str, str], context: dict[str, str] | None = None) -> Assembly:
    """`cdk synth` into ``outdir`` with the emulator's account (and ``context`` given as ``-c key=value``);
    fails when the app still needs a lookup."""
    context_file = ROOT / "cdk.context.json"
    before = context_file.read_bytes() if context_file.exists() else None
    extra = [arg for key, value in (context or {}).items() for arg in ("-c", f"{key}={value}")]
    run_cdk(["synth", "--quiet", "--lookups=false", "--output", str(outdir), *CONTEXT_ARGS, *extra], env)
    after = context_file.read_bytes() if context_file.exists() else None
    assert before == after, "the lifecycle synth must not change the project's cdk.context.json"
    return Assembly(outdir)


# ------------------------------------------------------------------------------------------- cloud assembly
@dataclass
class StackArtifact:
    artifact_id: str
    stack_name: str
    template: dict[str, Any]
    dependencies: list[str]

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template.get("Resources", {})

    def types(self) -> set[str]:
        return {resource["Type"] for resource in self.resources.values()}


class Assembly:
    """The stacks of a synthesised cloud assembly (``manifest.json``), in deployment order."""

    def __init__(self, outdir: Path) -> None:
        self.outdir = outdir
        manifest = json.loads((outdir / "manifest.json").read_text())
        artifacts = manifest["artifacts"]
        stacks: dict[str, StackArtifact] = {}
        for artifact_id, artifact in artifacts.items():
            if artifact["type"] != "aws:cloudformation:stack":
                continue
            properties = artifact["properties"]
            stacks[artifact_id] = StackArtifact(
                artifact_id=artifact_id,
                stack_name=properties.get("stackName", artifact_id),
                template=json.loads((outdir / properties["templateFile"]).read_text()),
                dependencies=[
                    d
                    for d in artifact.get("dependencies", [])
                    if artifacts.get(d, {}).get("type") == "aws:cloudformation:stack"
                ],
            )
        ordered: list[StackArtifact] = []
        while len(ordered) < len(stacks):
            progressed = False
            for stack in stacks.values():
                if stack not in ordered and all(stacks[d] in ordered for d in stack.dependencies):
                    ordered.append(stack)
                    progressed = True
            assert progressed, "cyclic stack dependencies in manifest.json"
        self.stacks = ordered

    def stack_names(self) -> list[str]:
        return [stack.stack_name for stack in self.stacks]

    def types(self) -> set[str]:
        return set().union(*(stack.types() for stack in self.stacks))

    def functions_with_env(self, *variables: str) -> list[tuple[StackArtifact, str]]:
        """(stack, logical id) of every Lambda function whose environment defines all ``variables``."""
        found = []
        for stack in self.stacks:
            for logical_id, resource in stack.resources.items():
                if resource["Type"] != "AWS::Lambda::Function":
                    continue
                env = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
                if all(name in env for name in variables):
                    found.append((stack, logical_id))
        return found


# The environment contracts of the two handlers the pipeline steps drive.
SUBMIT_JOB_ENV = SubmitJobEnvironment.variable_names()
EMR_EVENTS_ENV = EmrEventsEnvironment.variable_names()


def has_automation(assembly: Assembly) -> bool:
    """True when the app deploys the upload handler (the automation stack): then the pipeline steps must run."""
    return bool(assembly.functions_with_env(*SUBMIT_JOB_ENV))


def is_custom_resource(resource_type: str) -> bool:
    return resource_type.startswith("Custom::") or resource_type == CUSTOM_RESOURCE_TYPE


def moto_cloudformation_types() -> set[str]:
    """Resource types moto 5.2's CloudFormation implements (importing it loads every backend's models)."""
    from moto.cloudformation.parsing import NULL_MODELS, get_model_map

    return set(get_model_map()) - set(NULL_MODELS)


# ------------------------------------------------------------------------------------------- inventory
def _not_found(error: Exception) -> bool:
    from botocore.exceptions import ClientError

    if not isinstance(error, ClientError):
        return False
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return (
        status == 404
        or "NotFound" in code
        or "NoSuch" in code
        or code
        in {
            "ResourceNotFoundException",
            "InvalidRequestException",
            "AWS.SimpleQueueService.NonExistentQueue",
            "InvalidVpcID.NotFound",
            "InvalidSubnetID.NotFound",
            "InvalidGroup.NotFound",
            "InvalidVpcEndpointId.NotFound",
            "InvalidInstanceID.NotFound",
            "NotFoundException",
            "ValidationError",
        }
    )


def _name(physical_id: str) -> str:
    return physical_id.rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def _kms_live(c: Clients, pid: str) -> bool:
    return c.kms.describe_key(KeyId=pid)["KeyMetadata"]["KeyState"] not in {"PendingDeletion", "PendingReplicaDeletion"}


def _emr_cluster_live(c: Clients, pid: str) -> bool:
    return not c.emr.describe_cluster(ClusterId=pid)["Cluster"]["Status"]["State"].startswith("TERMINATED")


def _instance_live(c: Clients, pid: str) -> bool:
    reservations = c.ec2.describe_instances(InstanceIds=[pid])["Reservations"]
    states = [i["State"]["Name"] for r in reservations for i in r["Instances"]]
    return any(state not in {"terminated", "shutting-down"} for state in states)


def _log_group_live(c: Clients, pid: str) -> bool:
    groups = c.logs.describe_log_groups(logGroupNamePrefix=pid)["logGroups"]
    return any(group["logGroupName"] == pid for group in groups)


# type -> (clients, physical id) -> the resource exists (raises a not-found ClientError when it does not)
EXISTENCE: dict[str, Callable[[Clients, str], bool]] = {
    "AWS::S3::Bucket": lambda c, pid: bool(c.s3.head_bucket(Bucket=pid)),
    "AWS::Lambda::Function": lambda c, pid: bool(c.lambda_.get_function(FunctionName=pid)),
    "AWS::IAM::Role": lambda c, pid: bool(c.iam.get_role(RoleName=_name(pid))),
    "AWS::IAM::InstanceProfile": lambda c, pid: bool(c.iam.get_instance_profile(InstanceProfileName=_name(pid))),
    "AWS::IAM::ManagedPolicy": lambda c, pid: bool(c.iam.get_policy(PolicyArn=pid)),
    "AWS::SNS::Topic": lambda c, pid: bool(c.sns.get_topic_attributes(TopicArn=pid)),
    "AWS::SQS::Queue": lambda c, pid: bool(c.sqs.get_queue_attributes(QueueUrl=pid)),
    "AWS::KMS::Key": _kms_live,
    "AWS::DynamoDB::Table": lambda c, pid: bool(c.dynamodb.describe_table(TableName=_name(pid))),
    "AWS::Events::Rule": lambda c, pid: bool(c.events.describe_rule(Name=_name(pid))),
    "AWS::Logs::LogGroup": _log_group_live,
    "AWS::EC2::VPC": lambda c, pid: bool(c.ec2.describe_vpcs(VpcIds=[pid])["Vpcs"]),
    "AWS::EC2::Subnet": lambda c, pid: bool(c.ec2.describe_subnets(SubnetIds=[pid])["Subnets"]),
    "AWS::EC2::SecurityGroup": lambda c, pid: bool(c.ec2.describe_security_groups(GroupIds=[pid])["SecurityGroups"]),
    "AWS::EC2::VPCEndpoint": lambda c, pid: any(  # a deleted endpoint stays listed, in state "deleted"
        e["State"].lower() != "deleted" for e in c.ec2.describe_vpc_endpoints(VpcEndpointIds=[pid])["VpcEndpoints"]
    ),
    "AWS::EC2::FlowLog": lambda c, pid: bool(c.ec2.describe_flow_logs(FlowLogIds=[pid])["FlowLogs"]),
    "AWS::EC2::Instance": _instance_live,
    "AWS::EMR::SecurityConfiguration": lambda c, pid: bool(c.emr.describe_security_configuration(Name=pid)),
    "AWS::EMR::Cluster": _emr_cluster_live,
}


def exists(clients: Clients, resource_type: str, physical_id: str) -> bool | None:
    """Whether the emulator holds the resource; None when this test has no service-level check for the type."""
    check = EXISTENCE.get(resource_type)
    if check is None or not physical_id:
        return None
    try:
        return check(clients, physical_id)
    except Exception as error:
        if _not_found(error):
            return False
        raise


@dataclass
class DeployedStack:
    """What the emulator reports for one deployed stack, compared with its template."""

    stack: StackArtifact
    status: str
    outputs: dict[str, str]
    physical_ids: dict[str, str]  # logical id -> physical id, for the resources moto created
    verified: dict[str, bool | None] = field(default_factory=dict)  # logical id -> service-level check result

    @property
    def not_created(self) -> dict[str, str]:
        """Template resources moto did not create at all (type not modelled): logical id -> type."""
        return {
            logical_id: resource["Type"]
            for logical_id, resource in self.stack.resources.items()
            if logical_id not in self.physical_ids
        }

    @property
    def custom_resources(self) -> dict[str, str]:
        """Custom resources: moto records a placeholder but their Lambda handler never runs (no Docker)."""
        return {
            logical_id: resource["Type"]
            for logical_id, resource in self.stack.resources.items()
            if is_custom_resource(resource["Type"])
        }

    def physical_id(self, logical_prefix: str, resource_type: str) -> str:
        matches = [
            self.physical_ids[logical_id]
            for logical_id, resource in self.stack.resources.items()
            if logical_id.startswith(logical_prefix)
            and resource["Type"] == resource_type
            and logical_id in self.physical_ids
        ]
        assert len(matches) == 1, f"{self.stack.stack_name}: {len(matches)} {resource_type} named {logical_prefix}*"
        return matches[0]


def describe_deployed(clients: Clients, stack: StackArtifact) -> DeployedStack:
    cfn = clients.cloudformation
    description = cfn.describe_stacks(StackName=stack.stack_name)["Stacks"][0]
    summaries = cfn.get_paginator("list_stack_resources").paginate(StackName=stack.stack_name)
    physical_ids = {
        summary["LogicalResourceId"]: summary.get("PhysicalResourceId", "")
        for page in summaries
        for summary in page["StackResourceSummaries"]
        # moto lists a blank entry for each resource it did not create (unsupported type)
        if summary.get("LogicalResourceId")
    }
    deployed = DeployedStack(
        stack=stack,
        status=description["StackStatus"],
        outputs={o["OutputKey"]: o.get("OutputValue", "") for o in description.get("Outputs", [])},
        physical_ids=physical_ids,
    )
    for logical_id, physical_id in physical_ids.items():
        resource_type = stack.resources.get(logical_id, {}).get("Type", "")
        deployed.verified[logical_id] = exists(clients, resource_type, physical_id)
    return deployed


def retained(stack: StackArtifact) -> dict[str, str]:
    """Resources CloudFormation keeps on stack deletion, by the template's own DeletionPolicy."""
    return {
        logical_id: resource["Type"]
        for logical_id, resource in stack.resources.items()
        if resource.get("DeletionPolicy") in {"Retain", "RetainExceptOnCreate"}
    }


def empty_bucket(clients: Clients, bucket: str) -> int:
    """Deletes every object version and delete marker: what the CDK auto-delete-objects handler does on Delete."""
    deleted = 0
    paginator = clients.s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket):
        objects = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        if objects:
            clients.s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
            deleted += len(objects)
    return deleted


def project_leftovers(clients: Clients, markers: list[str]) -> dict[str, list[str]]:
    """Per service, every resource whose name contains one of ``markers`` (stack names, name prefix)."""
    lowered = [m.lower() for m in markers]

    def ours(name: str) -> bool:
        return any(marker in name.lower() for marker in lowered)

    found: dict[str, list[str]] = {}
    found["s3 buckets"] = [b["Name"] for b in clients.s3.list_buckets().get("Buckets", []) if ours(b["Name"])]

    def listed(client: Any, operation: str, items: str, name: str) -> list[str]:
        pages = client.get_paginator(operation).paginate()
        return [item[name] for page in pages for item in page[items] if ours(item[name])]

    found["lambda functions"] = listed(clients.lambda_, "list_functions", "Functions", "FunctionName")
    found["iam roles"] = listed(clients.iam, "list_roles", "Roles", "RoleName")
    found["iam instance profiles"] = listed(
        clients.iam, "list_instance_profiles", "InstanceProfiles", "InstanceProfileName"
    )
    found["eventbridge rules"] = [r["Name"] for r in clients.events.list_rules().get("Rules", []) if ours(r["Name"])]
    found["log groups"] = listed(clients.logs, "describe_log_groups", "logGroups", "logGroupName")
    found["emr clusters (not terminated)"] = [
        f"{c['Id']} {c['Name']}"
        for c in clients.emr.list_clusters(
            ClusterStates=["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING", "TERMINATING"]
        ).get("Clusters", [])
        if ours(c["Name"])
    ]
    # (moto 5.2 does not implement ListSecurityConfigurations: the recorded ones are checked one by one instead)
    found["dynamodb tables"] = [t for t in clients.dynamodb.list_tables().get("TableNames", []) if ours(t)]
    found["sqs queues"] = [q for q in clients.sqs.list_queues().get("QueueUrls", []) if ours(q)]
    found["sns topics"] = [t["TopicArn"] for t in clients.sns.list_topics().get("Topics", []) if ours(t["TopicArn"])]
    found["cloudformation stacks"] = [
        s["StackName"]
        for s in clients.cloudformation.describe_stacks().get("Stacks", [])
        if ours(s["StackName"]) and s["StackStatus"] != "DELETE_COMPLETE"
    ]
    return {service: names for service, names in found.items() if names}


def project_network(clients: Clients, vpc_ids: list[str]) -> dict[str, list[str]]:
    """Non-default VPC resources the project created (by id, since VPC resources carry no names)."""
    found: dict[str, list[str]] = {}
    for vpc_id in vpc_ids:
        for service, call, _key, id_key in (
            ("vpcs", c_vpcs, "Vpcs", "VpcId"),
            ("subnets", c_subnets, "Subnets", "SubnetId"),
            ("security groups", c_sgs, "SecurityGroups", "GroupId"),
            ("vpc endpoints", c_endpoints, "VpcEndpoints", "VpcEndpointId"),
            ("route tables", c_route_tables, "RouteTables", "RouteTableId"),
            ("instances", c_instances, "Instances", "InstanceId"),
        ):
            items = [
                item
                for item in call(clients, vpc_id)
                if item.get("GroupName") != "default" and str(item.get("State", "")).lower() != "deleted"
            ]
            if items:
                found.setdefault(service, []).extend(item[id_key] for item in items)
    return found


def c_vpcs(c: Clients, vpc_id: str) -> list[dict]:
    return c.ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Vpcs"]


def c_subnets(c: Clients, vpc_id: str) -> list[dict]:
    return c.ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]


def c_sgs(c: Clients, vpc_id: str) -> list[dict]:
    return c.ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"]


def c_route_tables(c: Clients, vpc_id: str) -> list[dict]:
    tables = c.ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]
    return [t for t in tables if not any(a.get("Main") for a in t.get("Associations", []))]


def c_endpoints(c: Clients, vpc_id: str) -> list[dict]:
    return c.ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["VpcEndpoints"]


def c_instances(c: Clients, vpc_id: str) -> list[dict]:
    reservations = c.ec2.describe_instances(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]},
        ]
    )["Reservations"]
    return [i for r in reservations for i in r["Instances"]]
