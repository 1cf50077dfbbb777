"""Encryption at rest and in transit, per data store, as the templates declare it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tools.audit.assembly import CloudAssembly, StackTemplate, as_list, parse_json_property, references, render


def _denies_insecure_transport(document: Any) -> str | None:
    """'TLS required' (+ minimum version) when the policy denies aws:SecureTransport=false."""
    secure, minimum = False, None
    for statement in as_list((document or {}).get("Statement")):
        if (statement or {}).get("Effect") != "Deny":
            continue
        condition = statement.get("Condition") or {}
        if render((condition.get("Bool") or {}).get("aws:SecureTransport")) == "false":
            secure = True
        tls = (condition.get("NumericLessThan") or {}).get("s3:TlsVersion")
        if tls is not None:
            minimum = render(tls)
    if not secure and minimum is None:
        return None
    return "TLS required by policy" + (f", TLS >= {minimum}" if minimum else "")


def _policies_for(stack: StackTemplate, policy_type: str, target_key: str, target: str) -> list[dict[str, Any]]:
    found = []
    for _, resource in stack.of_type(policy_type):
        properties = resource.get("Properties") or {}
        if target in references(properties.get(target_key)):
            found.append(properties.get("PolicyDocument") or {})
    return found


def _transit(stack: StackTemplate, policy_type: str, target_key: str, logical_id: str) -> str:
    for document in _policies_for(stack, policy_type, target_key, logical_id):
        verdict = _denies_insecure_transport(document)
        if verdict:
            return verdict
    return "not enforced by a resource policy"


def _row(stack: StackTemplate, logical_id: str, store: str, at_rest: str, in_transit: str, ok: bool) -> dict[str, Any]:
    return {
        "stack": stack.stack_name,
        "resource": logical_id,
        "path": stack.path_of(logical_id),
        "store": store,
        "at_rest": at_rest,
        "in_transit": in_transit,
        "ok": ok,
    }


def _ebs(mappings: Any) -> tuple[str, bool]:
    volumes: list[dict[str, Any]] = [
        mapping["Ebs"]
        for mapping in as_list(mappings)
        if isinstance(mapping, dict) and isinstance(mapping.get("Ebs"), dict)
    ]
    if not volumes:
        return "no block device mapping: root volume follows the account's EBS encryption-by-default", False
    parts, ok = [], True
    for volume in volumes:
        encrypted = volume.get("Encrypted") in (True, "true")
        ok &= encrypted
        key = f", key {render(volume['KmsKeyId'])}" if volume.get("KmsKeyId") else ""
        parts.append(
            f"{render(volume.get('VolumeType', 'gp2?'))} {render(volume.get('VolumeSize', '?'))} GiB "
            f"{'encrypted' + key if encrypted else 'NOT encrypted'}"
        )
    return "; ".join(parts), ok


def _bucket(stack: StackTemplate, logical_id: str, properties: dict[str, Any]) -> dict[str, Any]:
    rules = as_list((properties.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration"))
    default = (rules[0].get("ServerSideEncryptionByDefault") or {}) if rules else {}
    algorithm = render(default.get("SSEAlgorithm", ""))
    at_rest = {"AES256": "SSE-S3", "aws:kms": "SSE-KMS", "aws:kms:dsse": "DSSE-KMS"}.get(
        algorithm, "SSE-S3 (S3 default since 2023)"
    )
    if default.get("KMSMasterKeyID"):
        at_rest += f" key {render(default['KMSMasterKeyID'])}"
    transit = _transit(stack, "AWS::S3::BucketPolicy", "Bucket", logical_id)
    return _row(stack, logical_id, "S3 bucket", at_rest, transit, "TLS required" in transit)


def _topic(stack: StackTemplate, logical_id: str, properties: dict[str, Any]) -> dict[str, Any]:
    key = properties.get("KmsMasterKeyId")
    at_rest = f"SSE-KMS key {render(key)}" if key else "NOT encrypted (no KmsMasterKeyId)"
    transit = _transit(stack, "AWS::SNS::TopicPolicy", "Topics", logical_id)
    return _row(stack, logical_id, "SNS topic", at_rest, transit, bool(key) and "TLS" in transit)


def _queue(stack: StackTemplate, logical_id: str, properties: dict[str, Any]) -> dict[str, Any]:
    key = properties.get("KmsMasterKeyId")
    if key:
        at_rest = f"SSE-KMS key {render(key)}"
    elif properties.get("SqsManagedSseEnabled") in (False, "false"):
        at_rest = "NOT encrypted (SqsManagedSseEnabled false)"
    else:
        at_rest = "SSE-SQS (service-managed)"
    transit = _transit(stack, "AWS::SQS::QueuePolicy", "Queues", logical_id)
    return _row(stack, logical_id, "SQS queue", at_rest, transit, "NOT" not in at_rest and "TLS" in transit)


def _table(stack: StackTemplate, logical_id: str, properties: dict[str, Any]) -> dict[str, Any]:
    sse = properties.get("SSESpecification") or {}
    replica_keys = [
        (replica.get("SSESpecification") or {}).get("KMSMasterKeyId")
        for replica in as_list(properties.get("Replicas"))
        if isinstance(replica, dict)
    ]
    if sse.get("SSEEnabled") in (True, "true"):
        key = sse.get("KMSMasterKeyId") or next((k for k in replica_keys if k), None)
        at_rest = f"KMS key {render(key)}" if key else "KMS (AWS managed key aws/dynamodb)"
    else:
        at_rest = "AWS owned key (DynamoDB default)"
    return _row(stack, logical_id, "DynamoDB table", at_rest, "HTTPS API endpoints (no policy)", True)


def _instance(stack: StackTemplate, logical_id: str, properties: dict[str, Any]) -> dict[str, Any]:
    at_rest, ok = _ebs(properties.get("BlockDeviceMappings"))
    if properties.get("LaunchTemplate") and not properties.get("BlockDeviceMappings"):
        at_rest, ok = "see its launch template", True
    return _row(stack, logical_id, "EC2 instance volumes", at_rest, "n/a", ok)


def _launch_template(stack: StackTemplate, logical_id: str, properties: dict[str, Any]) -> dict[str, Any] | None:
    data = properties.get("LaunchTemplateData") or {}
    if data.get("BlockDeviceMappings") is None and not data.get("ImageId"):
        return None  # launches nothing by itself: the instance that uses it says what its volumes are
    at_rest, ok = _ebs(data.get("BlockDeviceMappings"))
    return _row(stack, logical_id, "launch template volumes", at_rest, "n/a", ok)


def _volume(stack: StackTemplate, logical_id: str, properties: dict[str, Any]) -> dict[str, Any]:
    encrypted = properties.get("Encrypted") in (True, "true")
    return _row(stack, logical_id, "EBS volume", "encrypted" if encrypted else "NOT encrypted", "n/a", encrypted)


def _log_group(stack: StackTemplate, logical_id: str, properties: dict[str, Any]) -> dict[str, Any]:
    key = properties.get("KmsKeyId")
    at_rest = f"KMS key {render(key)}" if key else "CloudWatch Logs service-managed encryption"
    return _row(stack, logical_id, "log group", at_rest, "HTTPS API endpoints", True)


def _key(stack: StackTemplate, logical_id: str, properties: dict[str, Any]) -> dict[str, Any]:
    rotation = properties.get("EnableKeyRotation") in (True, "true")
    return _row(stack, logical_id, "KMS key", "rotation on" if rotation else "rotation OFF", "n/a", rotation)


def stores(assembly: CloudAssembly) -> list[dict[str, Any]]:
    """One row per data store (and key) the templates declare, in template order."""
    rows = []
    for stack in assembly.stacks:
        for logical_id, resource in stack.resources.items():
            describe = _STORES.get(resource.get("Type", ""))
            row = describe(stack, logical_id, resource.get("Properties") or {}) if describe else None
            if row:
                rows.append(row)
    return rows


def _emr(stack: StackTemplate, logical_id: str, properties: dict[str, Any]) -> dict[str, Any]:
    configuration = parse_json_property(properties.get("SecurityConfiguration")) or {}
    encryption = (configuration.get("EncryptionConfiguration") or {}) if isinstance(configuration, dict) else {}
    at_rest_on = encryption.get("EnableAtRestEncryption") in (True, "true")
    transit_on = encryption.get("EnableInTransitEncryption") in (True, "true")
    at_rest = "OFF"
    if at_rest_on:
        detail = encryption.get("AtRestEncryptionConfiguration") or {}
        s3_mode = (detail.get("S3EncryptionConfiguration") or {}).get("EncryptionMode", "none")
        disk = detail.get("LocalDiskEncryptionConfiguration") or {}
        disk_text = disk.get("EncryptionKeyProviderType", "none")
        if disk.get("EnableEbsEncryption") in (True, "true"):
            disk_text += " + EBS"
        at_rest = f"S3 {render(s3_mode)}; local disks {render(disk_text)}"
    transit = "TLS (certificates configured)" if transit_on else "OFF (emr_in_transit_encryption false)"
    return _row(stack, logical_id, "EMR security configuration", at_rest, transit, at_rest_on)


_STORES: dict[str, Callable[[StackTemplate, str, dict[str, Any]], dict[str, Any] | None]] = {
    "AWS::S3::Bucket": _bucket,
    "AWS::SNS::Topic": _topic,
    "AWS::SQS::Queue": _queue,
    "AWS::DynamoDB::Table": _table,
    "AWS::DynamoDB::GlobalTable": _table,
    "AWS::EC2::Instance": _instance,
    "AWS::EC2::LaunchTemplate": _launch_template,
    "AWS::EC2::Volume": _volume,
    "AWS::EMR::SecurityConfiguration": _emr,
    "AWS::Logs::LogGroup": _log_group,
    "AWS::KMS::Key": _key,
}
