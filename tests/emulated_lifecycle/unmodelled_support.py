"""Template assertions for what the emulator does not model, so a green offline run is not over-read.

``TYPE_ASSERTIONS`` holds, for every resource type of this app that moto 5.2 does not create (or that the test's
emulator only adapts, or whose Lambda-backed handler it cannot run), a check of the properties that matter,
read from the synthesised templates. ``BUCKET_PROPERTY_ASSERTIONS`` does the same for S3 bucket properties moto
accepts but ignores. The lifecycle test fails when the app gains an unmodelled type or property without an
entry here; test_unmodelled.py runs the entries.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import lifecycle_support as lifecycle

from tools.context import settings_from

Resource = tuple[lifecycle.StackArtifact, str, dict[str, Any]]
# submit_job's FORMATS_BY_SUFFIX and COMPRESSION_RATIOS (lab_contract/layout.py RATINGS_SUFFIXES)
SUPPORTED_SUFFIXES = {".data", ".base", ".test", ".csv", ".dat", ".gz", ".bz2"}


def resources(assembly: lifecycle.Assembly, resource_type: str) -> Iterator[Resource]:
    for stack in assembly.stacks:
        for logical_id, resource in stack.resources.items():
            if resource["Type"] == resource_type:
                yield stack, logical_id, resource


def statements(resource: dict[str, Any]) -> list[dict[str, Any]]:
    statement = resource["Properties"]["PolicyDocument"]["Statement"]
    return statement if isinstance(statement, list) else [statement]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def denies_insecure_transport(resource: dict[str, Any], action: str) -> bool:
    return any(
        s["Effect"] == "Deny"
        and s.get("Principal") in ("*", {"AWS": "*"})
        and action in as_list(s["Action"])
        and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
        for s in statements(resource)
    )


def service_allows_are_scoped(resource: dict[str, Any]) -> list[str]:
    """Sids of Allow statements to a service principal without a SourceAccount/SourceArn condition."""
    unscoped = []
    for s in statements(resource):
        principal = s.get("Principal", {})
        if s["Effect"] == "Allow" and isinstance(principal, dict) and "Service" in principal:
            conditions = json.dumps(s.get("Condition", {}))
            if "aws:SourceAccount" not in conditions and "aws:SourceArn" not in conditions:
                unscoped.append(s.get("Sid", "?"))
    return unscoped


# ------------------------------------------------------------------------------------------- per type
def bucket_policies(assembly: lifecycle.Assembly) -> None:
    """Every bucket has one policy; it denies requests without TLS and with TLS older than 1.2."""
    for stack in assembly.stacks:
        buckets = {lid for lid, r in stack.resources.items() if r["Type"] == "AWS::S3::Bucket"}
        policies = {
            r["Properties"]["Bucket"]["Ref"]: r
            for _, _, r in resources(assembly, "AWS::S3::BucketPolicy")
            if isinstance(r["Properties"]["Bucket"], dict) and r["Properties"]["Bucket"].get("Ref") in buckets
        }
        assert set(policies) == buckets, f"{stack.stack_name}: buckets without a policy: {buckets - set(policies)}"
        for bucket, policy in policies.items():
            assert denies_insecure_transport(policy, "s3:*"), f"{bucket}: no Deny for aws:SecureTransport=false"
            assert any(
                s["Effect"] == "Deny"
                and float(s.get("Condition", {}).get("NumericLessThan", {}).get("s3:TlsVersion", 0)) == 1.2
                for s in statements(policy)
            ), f"{bucket}: no Deny for TLS < 1.2"
            assert not service_allows_are_scoped(policy), f"{bucket}: unscoped service Allow"


def topic_policies(assembly: lifecycle.Assembly) -> None:
    """Every topic policy denies publishing without TLS; service principals are scoped to this account."""
    found = list(resources(assembly, "AWS::SNS::TopicPolicy"))
    assert found
    for stack, lid, policy in found:
        assert denies_insecure_transport(policy, "sns:Publish"), f"{stack.stack_name}/{lid}: no TLS-only Deny"
        assert not service_allows_are_scoped(policy), f"{stack.stack_name}/{lid}: unscoped service Allow"


def queue_policies(assembly: lifecycle.Assembly) -> None:
    """Every queue policy denies access without TLS; EventBridge may only send from this app's rules."""
    for stack, lid, policy in resources(assembly, "AWS::SQS::QueuePolicy"):
        assert denies_insecure_transport(policy, "sqs:*"), f"{stack.stack_name}/{lid}: no TLS-only Deny"
        assert not service_allows_are_scoped(policy), f"{stack.stack_name}/{lid}: unscoped service Allow"
        for s in statements(policy):
            if s["Effect"] == "Allow":
                source = s["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::GetAtt"][0]
                assert stack.resources[source]["Type"] == "AWS::Events::Rule", (lid, source)


def budgets(assembly: lifecycle.Assembly) -> None:
    """A monthly COST budget of the default settings' amount, alerting the alerts topic at 80% actual and 100% forecast."""
    found = list(resources(assembly, "AWS::Budgets::Budget"))
    assert len(found) == 1, found
    stack, _, budget = found[0]
    props = budget["Properties"]
    assert props["Budget"]["BudgetType"] == "COST" and props["Budget"]["TimeUnit"] == "MONTHLY"
    # unset by default: the default app's network mode decides the amount (stacks/settings.py)
    amount = settings_from({}).budget_monthly_usd
    assert props["Budget"]["BudgetLimit"] == {"Amount": amount, "Unit": "USD"}
    kinds = {
        (n["Notification"]["NotificationType"], n["Notification"]["Threshold"])
        for n in props["NotificationsWithSubscribers"]
    }
    assert kinds == {("ACTUAL", 80), ("FORECASTED", 100)}, kinds
    for notification in props["NotificationsWithSubscribers"]:
        topics = [s["Address"]["Ref"] for s in notification["Subscribers"] if s["SubscriptionType"] == "SNS"]
        assert topics and all(stack.resources[t]["Type"] == "AWS::SNS::Topic" for t in topics)


def global_tables(assembly: lifecycle.Assembly) -> None:
    """The idempotency table: one replica in the stack's region (what the emulator adapts), on-demand, PITR on,
    the Powertools key ("id") and TTL attribute ("expiration")."""
    found = list(resources(assembly, "AWS::DynamoDB::GlobalTable"))
    assert found
    for _stack, lid, table in found:
        props = table["Properties"]
        assert [r["Region"] for r in props["Replicas"]] == [lifecycle.REGION], lid
        assert props["Replicas"][0]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True, lid
        assert props["BillingMode"] == "PAY_PER_REQUEST", lid
        assert props["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}], lid
        assert props["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}, lid


def instance_fleet_configs(assembly: lifecycle.Assembly) -> None:
    """The standing cluster's task fleet (moto creates no fleet): attached to the stack's AWS::EMR::Cluster,
    TASK, Spot capacity only, price-capacity-optimized with a switch to on-demand, distinct instance types."""
    found = list(resources(assembly, "AWS::EMR::InstanceFleetConfig"))
    assert found
    for stack, lid, fleet in found:
        props = fleet["Properties"]
        cluster = props["ClusterId"]["Ref"]
        assert stack.resources[cluster]["Type"] == "AWS::EMR::Cluster", lid
        assert props["InstanceFleetType"] == "TASK", lid
        assert isinstance(props["TargetSpotCapacity"], int) and props["TargetSpotCapacity"] > 0, lid
        assert not props.get("TargetOnDemandCapacity"), f"{lid}: on-demand task capacity"
        spot = props["LaunchSpecifications"]["SpotSpecification"]
        assert spot["AllocationStrategy"] == "price-capacity-optimized", lid
        assert spot["TimeoutAction"] == "SWITCH_TO_ON_DEMAND", lid
        types = [c["InstanceType"] for c in props["InstanceTypeConfigs"]]
        assert types and len(types) == len(set(types)), lid
        # the cluster's own fleets are its Master/CoreInstanceFleet; the task fleet exists only here, once
        assert "InstanceFleets" not in stack.resources[cluster]["Properties"]["Instances"], lid
    assert len({(stack.stack_name, fleet["Properties"]["ClusterId"]["Ref"]) for stack, _, fleet in found}) == len(found)


def security_group_egress(assembly: lifecycle.Assembly) -> None:
    """Egress rules name a destination security group or prefix list and a port range, never 0.0.0.0/0 all ports."""
    for _stack, lid, rule in resources(assembly, "AWS::EC2::SecurityGroupEgress"):
        props = rule["Properties"]
        assert props.get("IpProtocol") != "-1", f"{lid}: all protocols"
        assert props.get("CidrIp") != "0.0.0.0/0" and props.get("CidrIpv6") != "::/0", f"{lid}: open to the internet"
        assert "DestinationSecurityGroupId" in props or "DestinationPrefixListId" in props, f"{lid}: no destination"
        assert isinstance(props.get("FromPort"), int) and props["FromPort"] == props["ToPort"], f"{lid}: port range"


def event_invoke_configs(assembly: lifecycle.Assembly) -> None:
    """Each of the project's functions (handler.lambda_handler) keeps failed async events in an SQS queue."""
    for stack in assembly.stacks:
        functions = {
            lid
            for lid, r in stack.resources.items()
            if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Handler") == "handler.lambda_handler"
        }
        configs = {
            r["Properties"]["FunctionName"]["Ref"]: r["Properties"]
            for lid, r in stack.resources.items()
            if r["Type"] == "AWS::Lambda::EventInvokeConfig"
        }
        assert set(configs) == functions, (stack.stack_name, functions, set(configs))
        for function, config in configs.items():
            destination = config["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
            assert stack.resources[destination]["Type"] == "AWS::SQS::Queue", function
            assert 0 <= config["MaximumRetryAttempts"] <= 2 and config["Qualifier"] == "$LATEST", function


def auto_delete_objects(assembly: lifecycle.Assembly) -> None:
    """In dev each bucket is emptied on destroy: one auto-delete resource per DeletionPolicy=Delete bucket, after
    its bucket policy (so the policy still grants the handler access while it deletes)."""
    for stack in assembly.stacks:
        buckets = {lid: r for lid, r in stack.resources.items() if r["Type"] == "AWS::S3::Bucket"}
        handled = {}
        for lid, r in stack.resources.items():
            if r["Type"] == "Custom::S3AutoDeleteObjects":
                handled[r["Properties"]["BucketName"]["Ref"]] = r
                token = r["Properties"]["ServiceToken"]["Fn::GetAtt"][0]
                assert stack.resources[token]["Type"] == "AWS::Lambda::Function", lid
        deletable = {lid for lid, r in buckets.items() if r.get("DeletionPolicy") == "Delete"}
        assert set(handled) == deletable, (stack.stack_name, set(handled), deletable)
        for bucket, r in handled.items():
            policies = [
                lid
                for lid, p in stack.resources.items()
                if p["Type"] == "AWS::S3::BucketPolicy" and p["Properties"]["Bucket"] == {"Ref": bucket}
            ]
            assert set(policies) <= set(as_list(r.get("DependsOn", []))), (bucket, policies)


def bucket_notifications(assembly: lifecycle.Assembly) -> None:
    """The ratings bucket invokes the upload handler for ObjectCreated under its ratings prefix, for exactly the
    suffixes the handler accepts, and S3 may invoke it only from this account."""
    found = list(resources(assembly, "Custom::S3BucketNotifications"))
    assert found
    submit = assembly.functions_with_env(*lifecycle.SUBMIT_JOB_ENV)
    assert len(submit) == 1
    submit_stack, submit_fn = submit[0]
    submit_env = submit_stack.resources[submit_fn]["Properties"]["Environment"]["Variables"]
    for _stack, lid, r in found:
        assert "ratings-bucket" in json.dumps(r["Properties"]["BucketName"]) or "BucketsRatings" in json.dumps(
            r["Properties"]["BucketName"]
        ), lid
        configs = r["Properties"]["NotificationConfiguration"]["LambdaFunctionConfigurations"]
        assert r["Properties"]["NotificationConfiguration"].keys() == {"LambdaFunctionConfigurations"}, lid
        suffixes = set()
        for config in configs:
            assert config["Events"] == ["s3:ObjectCreated:*"], config
            assert config["LambdaFunctionArn"] == {"Fn::GetAtt": [submit_fn, "Arn"]}, config
            rules = {rule["Name"]: rule["Value"] for rule in config["Filter"]["Key"]["FilterRules"]}
            assert rules["prefix"] == submit_env["RATINGS_PREFIX"], rules
            suffixes.add(rules["suffix"])
        assert suffixes == SUPPORTED_SUFFIXES, suffixes
    permissions = [
        r["Properties"]
        for _, _, r in resources(assembly, "AWS::Lambda::Permission")
        if r["Properties"]["Principal"] == "s3.amazonaws.com"
    ]
    assert permissions and all(p.get("SourceAccount") and p.get("SourceArn") for p in permissions), permissions


def alarms(assembly: lifecycle.Assembly) -> None:
    """Two alarms, neither of which the emulator evaluates: the workstation stops itself after its idle time (EC2's
    own stop action, no Lambda), and anything in the dead-letter queue reaches the alerts topic."""
    by_namespace = {
        alarm["Properties"]["Namespace"]: (stack, alarm["Properties"])
        for stack, _, alarm in resources(assembly, "AWS::CloudWatch::Alarm")
    }
    assert set(by_namespace) == {"AWS/EC2", "AWS/SQS"}, by_namespace
    stack, props = by_namespace["AWS/EC2"]
    assert props["AlarmActions"] == [f"arn:aws:automate:{lifecycle.REGION}:ec2:stop"], props["AlarmActions"]
    [dimension] = props["Dimensions"]
    assert dimension["Name"] == "InstanceId"
    assert stack.resources[dimension["Value"]["Ref"]]["Type"] == "AWS::EC2::Instance"
    assert (props["MetricName"], props["ComparisonOperator"]) == ("CPUUtilization", "LessThanThreshold")
    minutes = settings_from({}).workstation_idle_stop_minutes
    assert props["Period"] * props["EvaluationPeriods"] == minutes * 60 and props["TreatMissingData"] == "notBreaching"
    stack, props = by_namespace["AWS/SQS"]
    [dimension] = props["Dimensions"]
    queue = dimension["Value"]["Fn::GetAtt"][0]
    assert dimension["Name"] == "QueueName" and stack.resources[queue]["Type"] == "AWS::SQS::Queue"
    assert (props["MetricName"], props["ComparisonOperator"], props["Threshold"]) == (
        "ApproximateNumberOfMessagesVisible",
        "GreaterThanThreshold",
        0,
    )
    [action] = props["AlarmActions"]
    assert "AlertsTopic" in json.dumps(action) and props["TreatMissingData"] == "notBreaching", action


TYPE_ASSERTIONS: dict[str, Callable[[lifecycle.Assembly], None]] = {
    "AWS::CloudWatch::Alarm": alarms,
    "AWS::S3::BucketPolicy": bucket_policies,
    "AWS::SNS::TopicPolicy": topic_policies,
    "AWS::SQS::QueuePolicy": queue_policies,
    "AWS::Budgets::Budget": budgets,
    "AWS::DynamoDB::GlobalTable": global_tables,
    "AWS::EC2::SecurityGroupEgress": security_group_egress,
    "AWS::Lambda::EventInvokeConfig": event_invoke_configs,
    "AWS::EMR::InstanceFleetConfig": instance_fleet_configs,
    "Custom::S3AutoDeleteObjects": auto_delete_objects,
    "Custom::S3BucketNotifications": bucket_notifications,
}


# ------------------------------------------------------------------------------------------- bucket properties
def buckets(assembly: lifecycle.Assembly) -> Iterator[tuple[str, dict[str, Any]]]:
    for _stack, lid, r in resources(assembly, "AWS::S3::Bucket"):
        yield lid, r["Properties"]


def _versioning(assembly: lifecycle.Assembly) -> None:
    for lid, props in buckets(assembly):
        expected = "Enabled" if lid.startswith(("BucketsRatings", "BucketsResults")) else None
        assert props.get("VersioningConfiguration", {}).get("Status") == expected, lid


def _lifecycle(assembly: lifecycle.Assembly) -> None:
    for lid, props in buckets(assembly):
        rules = {rule["Id"]: rule for rule in props["LifecycleConfiguration"]["Rules"]}
        assert rules["abort-incomplete-uploads"]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 7, lid
        if props.get("VersioningConfiguration", {}).get("Status") == "Enabled":
            assert rules["expire-old-versions"]["NoncurrentVersionExpiration"]["NoncurrentDays"] > 0, lid
        assert all(rule["Status"] == "Enabled" for rule in rules.values()), lid


def _public_access(assembly: lifecycle.Assembly) -> None:
    for lid, props in buckets(assembly):
        block = props["PublicAccessBlockConfiguration"]
        assert block == dict.fromkeys(
            ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
        ), lid


def _encryption(assembly: lifecycle.Assembly) -> None:
    for lid, props in buckets(assembly):
        rules = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert [r["ServerSideEncryptionByDefault"]["SSEAlgorithm"] for r in rules] == ["AES256"], lid


def _logging(assembly: lifecycle.Assembly) -> None:
    for _stack, lid, r in resources(assembly, "AWS::S3::Bucket"):
        logging = r["Properties"].get("LoggingConfiguration")
        if lid.startswith("BucketsLogs"):
            assert logging is None, lid
            continue
        target = logging["DestinationBucketName"]["Ref"]
        assert target.startswith("BucketsLogs") and logging["LogFilePrefix"].startswith("s3-access/"), lid


def _ownership(assembly: lifecycle.Assembly) -> None:
    for lid, props in buckets(assembly):
        assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}], lid


BUCKET_PROPERTY_ASSERTIONS: dict[str, Callable[[lifecycle.Assembly], None]] = {
    "VersioningConfiguration": _versioning,
    "LifecycleConfiguration": _lifecycle,
    "PublicAccessBlockConfiguration": _public_access,
    "BucketEncryption": _encryption,
    "LoggingConfiguration": _logging,
    "OwnershipControls": _ownership,
}
