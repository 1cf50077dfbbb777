"""Turn an S3 ObjectCreated record for a ratings file into one ALS step on EMR.

Plain functions and no AWS clients of their own, so they are tested without Lambda or AWS.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventRecord
from cluster_sizing import SizingPolicy, shape_for, shaped_job_flow

from stacks.contract import (
    CLUSTER_MODES,
    FORMATS_BY_SUFFIX,
    SubmitJobEnvironment,
    generated_run_id,
    step_name,
    transient_cluster_name,
)

MAX_KEY_BYTES = 1024  # S3's own limit on key length
# Hadoop reads these as glob or URI syntax, so such a key would silently read other objects or fail in Spark.
SPARK_UNSAFE_CHARS = frozenset("*?[]{}\\:")
BAD_PERCENT_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


class RejectedRecord(Exception):
    """A record that must not start a job; `reason` is a stable machine-readable code."""

    def __init__(self, reason: str, **fields: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fields = fields


@dataclass(frozen=True)
class Settings:
    """The function's environment contract, validated once per invocation."""

    cluster_mode: str
    job_flow_template: dict[str, Any] | None
    standing_cluster_id: str | None
    step_template: dict[str, Any]
    cluster_name_prefix: str
    results_uri: str
    ratings_prefix: str
    input_bucket: str
    sizing: SizingPolicy | None = None  # transient mode: the cluster's shape follows the upload's size

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Read and check the environment; a misconfigured function raises (MissingEnvironment, ValueError)."""
        env = SubmitJobEnvironment.from_variables(environ)
        if env.cluster_mode not in CLUSTER_MODES:
            raise ValueError(f"CLUSTER_MODE must be one of {CLUSTER_MODES}, not {env.cluster_mode!r}")
        job_flow_template = None
        standing_cluster_id = None
        sizing = None
        if env.cluster_mode == "transient":
            job_flow_template = json.loads(env.job_flow_template)
            forbidden = {"Name", "Steps"} & set(job_flow_template)
            if forbidden:
                raise ValueError(f"JOB_FLOW_TEMPLATE must not set {sorted(forbidden)}: the function sets them")
            sizing = SizingPolicy.from_json(env.cluster_sizing)
        else:
            standing_cluster_id = env.standing_cluster_id
            if not standing_cluster_id:
                raise ValueError("STANDING_CLUSTER_ID is empty in standing mode")
        step_template = json.loads(env.step_template)
        if not isinstance(step_template.get("HadoopJarStep", {}).get("Args"), list):
            raise ValueError("STEP_TEMPLATE needs HadoopJarStep.Args (a list)")
        return cls(
            cluster_mode=env.cluster_mode,
            job_flow_template=job_flow_template,
            standing_cluster_id=standing_cluster_id,
            step_template=step_template,
            cluster_name_prefix=env.cluster_name_prefix,
            results_uri=env.results_uri.rstrip("/"),
            ratings_prefix=env.ratings_prefix,
            input_bucket=env.input_bucket,
            sizing=sizing,
        )


@dataclass(frozen=True)
class Upload:
    """A validated ratings object: what to train on, and the identity that makes submission idempotent."""

    bucket: str
    key: str
    version: str  # versionId when the bucket is versioned, else the eTag
    fmt: str
    event_date: str  # YYYYMMDD (UTC) of the S3 event, part of the run id
    size: int  # bytes, from the event: sizes the transient cluster

    def identity(self) -> dict[str, str]:
        """The only fields duplicates are detected on (not the whole event)."""
        return {"bucket": self.bucket, "key": self.key, "version": self.version}

    def as_payload(self) -> dict[str, str | int]:
        return {**self.identity(), "fmt": self.fmt, "event_date": self.event_date, "size": self.size}


def event_records(event: Any) -> list[Any]:
    """The event's Records list, or RejectedRecord for anything that is not an S3 notification batch."""
    if not isinstance(event, dict):
        raise RejectedRecord("event_not_an_object", type=type(event).__name__)
    if event.get("Event") == "s3:TestEvent":
        # Sent once by S3 when the notification is configured; it has no Records.
        raise RejectedRecord("s3_test_event", bucket=str(event.get("Bucket", ""))[:63])
    if "Records" not in event:
        raise RejectedRecord("missing_records")
    records = event["Records"]
    if not isinstance(records, list):
        raise RejectedRecord("records_not_a_list", type=type(records).__name__)
    if not records:
        raise RejectedRecord("empty_records")
    return records


def decode_key(raw_key: Any) -> str:
    """URL-decode an S3 notification key ('+' is a space) and refuse keys Spark or S3 could not use."""
    if not isinstance(raw_key, str) or not raw_key:
        raise RejectedRecord("missing_key")
    if len(raw_key) > 3 * MAX_KEY_BYTES:  # cheap bound before decoding: %XX is at most 3 chars a byte
        raise RejectedRecord("key_too_long", length=len(raw_key))
    if BAD_PERCENT_ESCAPE.search(raw_key):
        # S3 encodes a literal '%' as %25, so a stray one means the event was not produced by S3.
        raise RejectedRecord("bad_percent_encoding", raw_key=raw_key[:200])
    try:
        # errors="strict": the default "replace" would hide invalid UTF-8 behind U+FFFD.
        key = unquote_plus(raw_key, encoding="utf-8", errors="strict")
        key_bytes = key.encode("utf-8")
    except UnicodeError:
        raise RejectedRecord("key_not_utf8", raw_key=raw_key[:200]) from None
    if len(key_bytes) > MAX_KEY_BYTES:
        raise RejectedRecord("key_too_long", length=len(key_bytes))
    if any(unicodedata.category(char) == "Cc" for char in key):
        raise RejectedRecord("key_has_control_chars", raw_key=raw_key[:200])
    return key


def parse_record(record: S3EventRecord, settings: Settings) -> Upload:
    """Validate one S3 notification record; raise RejectedRecord (with a reason) for anything we must not run."""
    if not isinstance(record.raw_event, dict):
        raise RejectedRecord("record_not_an_object", type=type(record.raw_event).__name__)
    try:
        return _parse_record(record, settings)
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        # The data class raises these for missing or mistyped fields.
        raise RejectedRecord("malformed_record", error=f"{type(error).__name__}: {str(error)[:100]}") from None


def _parse_record(record: S3EventRecord, settings: Settings) -> Upload:
    if record.get("eventSource") != "aws:s3":
        raise RejectedRecord("wrong_event_source", event_source=str(record.get("eventSource"))[:100])
    event_name = record.get("eventName")
    if not isinstance(event_name, str) or not event_name.startswith("ObjectCreated:"):
        raise RejectedRecord("not_object_created", event_name=str(event_name)[:100])
    bucket = record.s3.bucket.name
    if bucket != settings.input_bucket:
        raise RejectedRecord("wrong_bucket", bucket=str(bucket)[:63])
    obj = record.s3.get_object
    key = decode_key(obj.key)
    if not key.startswith(settings.ratings_prefix):
        raise RejectedRecord("key_outside_prefix", key=key[:200])
    fmt = next((f for suffix, f in FORMATS_BY_SUFFIX.items() if key.lower().endswith(suffix)), None)
    if fmt is None:
        raise RejectedRecord("unsupported_suffix", key=key[:200])
    if SPARK_UNSAFE_CHARS & set(key):
        raise RejectedRecord("key_unsafe_for_spark", key=key[:200])
    if "size" not in obj.raw_event or isinstance(obj.raw_event["size"], bool):
        raise RejectedRecord("missing_size", key=key[:200])
    if obj.size <= 0:
        raise RejectedRecord("empty_object", key=key[:200], size=obj.size)
    # S3 always sends the eTag with ObjectCreated; without it the record is not S3's.
    if not isinstance(obj.raw_event.get("eTag"), str) or not obj.etag:
        raise RejectedRecord("missing_etag", key=key[:200])
    version = obj.version_id if isinstance(obj.version_id, str) and obj.version_id else obj.etag
    when = datetime.fromisoformat(record.event_time.replace("Z", "+00:00"))
    return Upload(
        bucket=bucket, key=key, version=version, fmt=fmt, event_date=when.strftime("%Y%m%d"), size=int(obj.size)
    )


def run_id_for(upload: Upload) -> str:
    """Deterministic run id: the same object version always maps to the same id, so a retry reuses it."""
    digest = hashlib.sha256(json.dumps(upload.identity(), sort_keys=True).encode("utf-8")).hexdigest()
    return generated_run_id(upload.event_date, digest)


def build_step(settings: Settings, upload: Upload, run_id: str) -> dict[str, Any]:
    """The EMR step: the template's spark-submit command plus this object's job arguments."""
    step = copy.deepcopy(settings.step_template)
    step["Name"] = step_name(settings.cluster_name_prefix, run_id)
    step["HadoopJarStep"]["Args"] = [
        *step["HadoopJarStep"]["Args"],
        "--ratings",
        f"s3://{upload.bucket}/{upload.key}",
        "--format",
        upload.fmt,
        "--output",
        settings.results_uri,
        "--run-id",
        run_id,
    ]
    return step


def start_job(emr: Any, settings: Settings, upload: Upload, run_id: str) -> dict[str, str]:
    """Start the ALS step: a new transient cluster, or a step on the standing cluster."""
    step = build_step(settings, upload, run_id)
    if settings.cluster_mode == "transient":
        if settings.job_flow_template is None or settings.sizing is None:  # from_env reads both in transient mode
            raise ValueError("no JOB_FLOW_TEMPLATE or CLUSTER_SIZING in transient mode")
        job_flow, shape = shaped_job_flow(settings.job_flow_template, shape_for(upload.size, settings.sizing))
        response = emr.run_job_flow(
            **job_flow, Name=transient_cluster_name(settings.cluster_name_prefix, run_id), Steps=[step]
        )
        return {
            "run_id": run_id,
            "cluster_id": response["JobFlowId"],
            "step_name": step["Name"],
            "cluster_shape": shape,
        }
    response = emr.add_job_flow_steps(JobFlowId=settings.standing_cluster_id, Steps=[step])
    return {
        "run_id": run_id,
        "cluster_id": settings.standing_cluster_id,
        "step_id": response["StepIds"][0],
        "step_name": step["Name"],
    }
