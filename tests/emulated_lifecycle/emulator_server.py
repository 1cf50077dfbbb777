"""Runs moto 5.2 in server mode on 127.0.0.1 for the offline lifecycle test; started as a child process.

    python tests/emulated_lifecycle/emulator_server.py        # prints "PORT <n>" once listening, exits when stdin closes or on SIGTERM

A child process rather than a thread in pytest: moto's backends are module globals that the unit tests'
``mock_aws`` also uses, moto starts threads of its own (custom-resource invocations), and a child can always
be killed. It listens on a free port chosen by the OS and only on the loopback interface. It exits when its
parent goes away (stdin reaches EOF), so an interrupted pytest leaves no server behind.

Emulator bugs worked around here (each one makes moto crash or lie for a valid template; none changes what
the product deploys):

* ``AWS::KMS::Key`` with ``Tags``: moto passes CloudFormation's ``[{Key, Value}]`` tags unchanged to its KMS
  tagger, which expects ``[{TagKey, TagValue}]``, and ExecuteChangeSet fails with HTTP 500 (KeyError
  'TagKey'), half-way through creating the stack; and it stores ``KeyPolicy`` as a dict where its KMS API
  expects a JSON string, so every later DescribeKey fails with HTTP 500. We translate both before its handler.
* ``AWS::SSM::Parameter`` with ``Tags``: CloudFormation takes them as a map (key to value), moto's handler
  expects ``[{Key, Value}]`` and the parameter is never created (stacks/handoff.py's parameters, which the
  automation stack's template parameters then fail to read). We translate the map before its handler.
* Change sets (the only way the CDK CLI deploys by default): a stack created by CreateChangeSet gets no view of
  the account's exports, so ``Fn::ImportValue`` fails with "No export named ... found"; and after
  ExecuteChangeSet moto neither refreshes the stack's Outputs (DescribeStacks shows none) nor publishes its
  Exports. We give such stacks the backend's live exports and, after execution, rebuild their outputs and
  publish their exports as CreateStack does.
* ``AWS::EC2::FlowLog`` to S3 with a key prefix (``arn:aws:s3:::bucket/prefix/``, valid in AWS): moto looks up
  a bucket named "bucket/prefix/", finds none, creates no flow log and the stack's resource listing fails with
  HTTP 500 (IndexError). We check the bucket by its name and keep the full destination ARN.
* EMR API requests to a non-AWS host name (our 127.0.0.1 endpoint) are served from the us-east-1 backend
  whatever region the request is signed for (``ElasticMapReduceResponse.get_region_from_url`` ignores the
  signature's region, unlike every other moto service). The EMR security configuration CloudFormation created in
  eu-west-2 then "does not exist" for the API, and jobs land in us-east-1. We fall back to the signed region.
* ``AWS::EMR::Cluster`` (the standing cluster, ``-c cluster_mode=standing``): moto creates the cluster but
  drops ``SecurityConfiguration``, ``StepConcurrencyLevel``, ``VisibleToAllUsers`` and the ``Instances`` flags
  ``KeepJobFlowAliveWhenNoSteps`` / ``TerminationProtected`` (it reads them under RunJobFlow's snake-case names
  only), and reads ``Ec2SubnetId`` but not ``Ec2SubnetIds``. A cluster created with no steps and not kept alive
  terminates at once, so the standing cluster is TERMINATED as soon as CloudFormation creates it (and shows no
  security configuration). We pass the flags under moto's names and set the other attributes after its handler
  (instance fleets, applications and configurations stay unmodelled; ``AWS::EMR::InstanceFleetConfig`` is not
  modelled at all and is asserted from the template).
* ``AWS::EC2::VPCEndpoint``, ``AWS::EC2::RouteTable`` and ``AWS::EC2::FlowLog`` have no CloudFormation delete
  in moto: on stack deletion they silently stay (with the interface endpoints' network interfaces), and the VPC
  then "has dependencies and cannot be deleted", so `cdk destroy` of a stack with a VPC of its own always fails.
  We delete them through moto's own DeleteVpcEndpoints / DeleteRouteTable / DeleteFlowLogs.
* A deleted stack keeps its lazily-evaluated resource and output maps: the next DescribeStacks (the CLI polls
  it while destroying) evaluates the deleted stack's Outputs and thereby re-creates every resource they
  reference (buckets, roles, topics...), under new names, after `cdk destroy` has "succeeded". We empty both
  maps once the stack is deleted.

Emulator extensions (what moto does not model and the commands or the pipeline need):

* Termination protection: moto stores ``EnableTerminationProtection`` from CreateStack but has no
  UpdateTerminationProtection and deletes a protected stack. We add the call and refuse DeleteStack of a protected
  stack with AWS's ValidationError ("Protect a CloudFormation stack from being deleted": the deletion fails and
  the stack remains unchanged), so `make destroy` of a prod stage is tested against that rule.
* Service Quotas serves only VPC quotas in moto. We serve EC2's on-demand standard vCPU quota (L-1216C47A,
  "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances") with the value in
  ``EMULATOR_ON_DEMAND_VCPUS`` (default 32), so `make preflight` compares it with what the settings need.

* ``AWS::DynamoDB::GlobalTable`` (CDK ``TableV2``) with a single replica in the stack's region is created as
  the equivalent moto DynamoDB table (keys, billing mode, the replica's tags, TTL). Replica settings such as
  point-in-time recovery and deletion protection are not modelled: they are asserted from the template
  (tests/emulated_lifecycle/unmodelled_support.py). ``ADAPTED_TYPES`` lists such types so the test reports them as not modelled.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any


def _patch_kms_key_tags() -> None:
    from moto.kms.models import Key

    original = Key.create_from_cloudformation_json.__func__  # classmethod -> function

    def create_from_cloudformation_json(
        cls: Any, resource_name: str, cloudformation_json: Any, *args: Any, **kwargs: Any
    ) -> Any:
        properties = dict(cloudformation_json.get("Properties", {}))
        tags = properties.get("Tags")
        if tags and all("Key" in tag for tag in tags):
            properties["Tags"] = [{"TagKey": tag["Key"], "TagValue": tag["Value"]} for tag in tags]
        if isinstance(properties.get("KeyPolicy"), dict):
            properties["KeyPolicy"] = json.dumps(properties["KeyPolicy"])
        return original(cls, resource_name, {**cloudformation_json, "Properties": properties}, *args, **kwargs)

    Key.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)


def _patch_ssm_parameter_tags() -> None:
    from moto.ssm.models import Parameter

    original = Parameter.create_from_cloudformation_json.__func__  # classmethod -> function

    def create_from_cloudformation_json(
        cls: Any, resource_name: str, cloudformation_json: Any, *args: Any, **kwargs: Any
    ) -> Any:
        properties = dict(cloudformation_json.get("Properties", {}))
        if isinstance(properties.get("Tags"), dict):
            properties["Tags"] = [{"Key": key, "Value": value} for key, value in properties["Tags"].items()]
        return original(cls, resource_name, {**cloudformation_json, "Properties": properties}, *args, **kwargs)

    Parameter.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)


def _patch_change_set_exports() -> None:
    from moto.cloudformation import models

    original_init = models.Stack.__init__

    def stack_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        if not kwargs.get("cross_stack_resources"):
            backend = models.cloudformation_backends[self.account_id][self.region_name]
            self.cross_stack_resources = backend.exports  # the live dict, as CreateStack would pass
            self.resource_map.cross_stack_resources = backend.exports

    models.Stack.__init__ = stack_init

    original_execute = models.CloudFormationBackend.execute_change_set

    def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        original_execute(self, change_set_name, stack_name)
        change_set = self.describe_change_set(change_set_name)
        stack = self.stacks[change_set.stack_id]
        stack._parse_template()
        stack.description = stack.template_dict.get("Description")
        stack.output_map = stack._create_output_map()
        for name in [n for n, e in self.exports.items() if e.exporting_stack_id == stack.stack_id]:
            del self.exports[name]
        self._validate_export_uniqueness(stack)
        for export in stack.exports:
            self.exports[export.name] = export

    models.CloudFormationBackend.execute_change_set = execute_change_set


def _patch_deleted_stack_maps() -> None:
    from moto.cloudformation import models
    from moto.cloudformation.parsing import OutputMap

    original_delete = models.Stack.delete

    def delete(self: Any) -> None:
        original_delete(self)
        self.resource_map._resource_json_map = {}
        self.output_map = OutputMap(self.resource_map, {}, self.stack_id)

    models.Stack.delete = delete


def _patch_flow_log_s3_prefix() -> None:
    from moto.ec2.models.flow_logs import FlowLogsBackend

    original = FlowLogsBackend.create_flow_logs

    def create_flow_logs(
        self: Any,
        resource_type: str,
        resource_ids: list,
        traffic_type: str,
        permission_arn: str,
        destination_type: str,
        destination: str,
        *args: Any,
    ) -> Any:
        if destination_type == "s3" and destination and "/" in destination.split(":", 5)[-1]:
            flow_logs, unsuccessful = original(
                self,
                resource_type,
                resource_ids,
                traffic_type,
                permission_arn,
                destination_type,
                destination.split("/", 1)[0],
                *args,
            )
            for flow_log in flow_logs:
                flow_log.log_destination = destination
            return flow_logs, unsuccessful
        return original(
            self, resource_type, resource_ids, traffic_type, permission_arn, destination_type, destination, *args
        )

    FlowLogsBackend.create_flow_logs = create_flow_logs


def _patch_emr_region() -> None:
    from moto.core.responses import BaseResponse
    from moto.emr.responses import ElasticMapReduceResponse

    def get_region_from_url(self: Any, request: Any, full_url: str) -> str:
        for regex in ElasticMapReduceResponse.emr_region_regex:
            match = regex.search(self.parsed_url.netloc)
            if match:
                return match.group(1)
        return BaseResponse.get_region_from_url(self, request, full_url)

    ElasticMapReduceResponse.get_region_from_url = get_region_from_url


def _patch_emr_cluster_properties() -> None:
    from moto.emr.models import Cluster

    original = Cluster.create_from_cloudformation_json.__func__  # classmethod -> function

    def flag(value: Any) -> bool:
        return str(value).lower() == "true"  # a template boolean may arrive as "true"/"false"

    def create_from_cloudformation_json(
        cls: Any, resource_name: str, cloudformation_json: Any, *args: Any, **kwargs: Any
    ) -> Any:
        properties = dict(cloudformation_json.get("Properties", {}))
        instances = dict(properties.get("Instances", {}))  # a copy: moto adds its own keys to what it is given
        # read by moto's Cluster under RunJobFlow's snake-case names only; without them it terminates the new
        # cluster at once (no steps, not kept alive)
        instances["keep_job_flow_alive_when_no_steps"] = flag(instances.get("KeepJobFlowAliveWhenNoSteps", False))
        instances["termination_protected"] = flag(instances.get("TerminationProtected", False))
        if not instances.get("Ec2SubnetId") and instances.get("Ec2SubnetIds"):
            instances["Ec2SubnetId"] = instances["Ec2SubnetIds"][0]
        properties["Instances"] = instances
        cluster = original(cls, resource_name, {**cloudformation_json, "Properties": properties}, *args, **kwargs)
        cluster.security_configuration = properties.get("SecurityConfiguration")
        cluster.step_concurrency_level = int(properties.get("StepConcurrencyLevel", 1))
        cluster.set_visibility(flag(properties.get("VisibleToAllUsers", True)))
        return cluster

    Cluster.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)


def _patch_missing_ec2_deletes() -> None:
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.flow_logs import FlowLogs
    from moto.ec2.models.route_tables import RouteTable
    from moto.ec2.models.vpcs import VPCEndPoint

    def backend(account_id: str, region_name: str) -> Any:
        return ec2_backends[account_id][region_name]

    def delete_endpoint(self: Any, account_id: str, region_name: str) -> None:
        ec2 = backend(account_id, region_name)
        # moto removes a gateway endpoint's routes from its route tables, failing on a table deleted before it
        self.route_table_ids = [rt for rt in (self.route_table_ids or []) if rt in ec2.route_tables]
        ec2.delete_vpc_endpoints([self.id])

    VPCEndPoint.delete = delete_endpoint
    RouteTable.delete = lambda self, account_id, region_name: backend(account_id, region_name).delete_route_table(
        self.id
    )
    FlowLogs.delete = lambda self, account_id, region_name: backend(account_id, region_name).delete_flow_logs([self.id])


ADAPTED_TYPES = ("AWS::DynamoDB::GlobalTable",)


def _add_single_region_global_table() -> None:
    from moto.cloudformation.parsing import get_model_map
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.table import Table

    class SingleRegionGlobalTable(Table):
        __module__ = Table.__module__  # moto's model metaclass derives the service name from the module

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::DynamoDB::GlobalTable"

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[misc]
            cls,
            resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> Table:
            properties = dict(cloudformation_json["Properties"])
            replicas = properties.pop("Replicas", [])
            regions = [replica.get("Region") for replica in replicas]
            if regions != [region_name]:
                raise NotImplementedError(
                    f"emulator: global table replicas {regions} (only [{region_name}] is adapted)"
                )
            properties["Tags"] = replicas[0].get("Tags", [])
            table = Table.create_from_cloudformation_json(
                resource_name, {**cloudformation_json, "Properties": properties}, account_id, region_name, **kwargs
            )
            ttl = properties.get("TimeToLiveSpecification")
            if ttl:
                dynamodb_backends[account_id][region_name].update_time_to_live(table.name, ttl)
            return table

    get_model_map()[SingleRegionGlobalTable.cloudformation_type()] = SingleRegionGlobalTable  # the cached dict


def _add_termination_protection(patch: Callable[[Any, str, Any], None] = setattr) -> None:
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.models import CloudFormationBackend
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.responses import ActionResult

    def update_termination_protection(self: Any) -> Any:
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        stack.enable_termination_protection = self._get_param("EnableTerminationProtection") in (True, "true")
        return ActionResult({"StackId": stack.stack_id})

    original_delete = CloudFormationBackend.delete_stack

    def delete_stack(self: Any, name_or_stack_id: str) -> None:
        for stack in list(self.stacks.values()):
            if name_or_stack_id in (stack.name, stack.stack_id) and stack.enable_termination_protection:
                raise ValidationError(
                    name_or_stack_id,
                    f"Stack [{stack.name}] cannot be deleted while TerminationProtection is enabled",
                )
        original_delete(self, name_or_stack_id)

    patch(CloudFormationResponse, "update_termination_protection", update_termination_protection)
    patch(CloudFormationBackend, "delete_stack", delete_stack)


def _add_ec2_on_demand_quota(patch: Callable[[Any, str, Any], None] = setattr, vcpus: float | None = None) -> None:
    import os

    from moto.servicequotas.models import ServiceQuotasBackend

    value = vcpus if vcpus is not None else float(os.environ.get("EMULATOR_ON_DEMAND_VCPUS", "32"))
    original = ServiceQuotasBackend.get_service_quota

    def get_service_quota(self: Any, service_code: str, quota_code: str) -> dict[str, Any]:
        if (service_code, quota_code) == ("ec2", "L-1216C47A"):
            return {
                "ServiceCode": "ec2",
                "QuotaCode": "L-1216C47A",
                "QuotaName": "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances",
                "Value": value,
                "Unit": "None",
                "Adjustable": True,
                "GlobalQuota": False,
            }
        return original(self, service_code, quota_code)

    patch(ServiceQuotasBackend, "get_service_quota", get_service_quota)


PATCHES = (
    _patch_kms_key_tags,
    _patch_ssm_parameter_tags,
    _patch_change_set_exports,
    _patch_deleted_stack_maps,
    _patch_flow_log_s3_prefix,
    _patch_emr_region,
    _patch_emr_cluster_properties,
    _patch_missing_ec2_deletes,
    _add_single_region_global_table,
    _add_termination_protection,
    _add_ec2_on_demand_quota,
)


def main() -> int:
    from moto.server import ThreadedMotoServer

    for patch in PATCHES:
        patch()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    assert host == "127.0.0.1", host
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    def watch_parent() -> None:
        sys.stdin.read()  # returns at EOF: the parent closed the pipe or died
        stop.set()

    threading.Thread(target=watch_parent, daemon=True).start()
    print(f"PORT {port}", flush=True)
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
