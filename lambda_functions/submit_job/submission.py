"""Turn an S3 ObjectCreated record for a ratings file into one ALS step on EMR, at most once.

Plain functions and no AWS clients of their own, so they are tested without Lambda or AWS.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote, unquote_plus

from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventRecord

from lab_contract.aws import is_retryable
from lab_contract.environments import SubmitJobEnvironment
from lab_contract.layout import COMPRESSION_RATIOS, FORMATS_BY_SUFFIX
from lab_contract.logs import shown
from lab_contract.names import generated_run_id, step_name, transient_cluster_name
from lab_contract.sizing import shape_for
from lambda_functions.submit_job.job_flow import shaped_job_flow

MAX_KEY_BYTES = 1024  # S3's own limit on key length
# No S3 object is this large (the limit is tens of TB); anything above is not a size S3 sent.
MAX_OBJECT_BYTES = 2**53
BAD_PERCENT_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
# Hadoop's Path normalises "a//b" to "a/b" and resolves "." and "..": the job would read another object.
DOT_SEGMENTS = frozenset({"", ".", ".."})
# An S3 event's time and the EMR cluster's creation time come from different clocks: look this far back.
CLOCK_SKEW = timedelta(hours=1)
# Reads (ListClusters, ListSteps) are retried here, not by botocore: the client has botocore's retries off so
# that RunJobFlow and AddJobFlowSteps, which carry no idempotency token, are never sent twice by the SDK.
READ_RETRY_DELAYS: tuple[float, ...] = (0.5, 1.5)


class RejectedRecord(Exception):
    """A record that must not start a job; `reason` is a stable machine-readable code."""

    def __init__(self, reason: str, **fields: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fields = fields


@dataclass(frozen=True)
class Upload:
    """A validated ratings object: what to train on, and the identity that makes submission idempotent."""

    bucket: str
    key: str
    version: str  # versionId when the bucket is versioned, else the eTag
    fmt: str
    event_time: str  # ISO 8601, UTC: when S3 created the object; its date is part of the run id
    size: int  # bytes, from the event: sizes the transient cluster

    def identity(self) -> dict[str, str]:
        """The only fields duplicates are detected on (not the whole event)."""
        return {"bucket": self.bucket, "key": self.key, "version": self.version}

    def as_payload(self) -> dict[str, str | int]:
        return {**self.identity(), "fmt": self.fmt, "event_time": self.event_time, "size": self.size}

    @property
    def created(self) -> datetime:
        return datetime.fromisoformat(self.event_time)

    @property
    def run_id(self) -> str:
        """Deterministic: the same object version always maps to the same id, so a retry reuses it."""
        digest = hashlib.sha256(json.dumps(self.identity(), sort_keys=True).encode("utf-8")).hexdigest()
        return generated_run_id(self.created.strftime("%Y%m%d"), digest)


def event_records(event: Any) -> list[Any]:
    """The event's Records list, or RejectedRecord for anything that is not an S3 notification batch."""
    if not isinstance(event, dict):
        raise RejectedRecord("event_not_an_object", type=type(event).__name__)
    if event.get("Event") == "s3:TestEvent":
        # Sent once by S3 when the notification is configured; it has no Records.
        raise RejectedRecord("s3_test_event", bucket=shown(event.get("Bucket", ""), 63))
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


def fully_decoded(segment: str) -> str:
    """A path segment with percent-escapes undone until nothing changes ('%252E' -> '%2E' -> '.')."""
    for _ in range(8):  # each round shortens the text, so a few rounds reach the fixed point
        decoded = unquote(segment, errors="replace")
        if decoded == segment:
            break
        segment = decoded
    return segment


def check_path(key: str) -> None:
    """Refuse a key Hadoop would read as another path, or skip as hidden.

    Hadoop's Path collapses empty segments and resolves '.' and '..' (also when a layer of percent-encoding
    hides them: '%2E%2E'), so the job would read another object, or one outside the prefix. Hadoop and Spark skip
    files and folders whose name starts with '_' or '.' ('_SUCCESS', '.staging'), so the job would read 0 rows.
    """
    segments = [fully_decoded(segment) for segment in key.split("/")]
    if any(segment in DOT_SEGMENTS for segment in segments):
        raise RejectedRecord("key_has_dot_segment", key=key[:200])
    hidden = [segment for segment in segments if segment.startswith(("_", "."))]
    if hidden:
        raise RejectedRecord("key_hidden_from_spark", key=key[:200], segment=hidden[0][:100])


def compression_ratio(key: str) -> float:
    """How much the object's text is taken to expand: COMPRESSION_RATIOS for a compressed suffix, else 1."""
    return next((ratio for suffix, ratio in COMPRESSION_RATIOS.items() if key.lower().endswith(suffix)), 1.0)


def key_format(key: str) -> str | None:
    """The job's --format for a key: its suffix's (FORMATS_BY_SUFFIX), after a compression suffix if it has one
    (u.data.gz is udata); None when it has none of them."""
    name = key.lower()
    compressed = next((suffix for suffix in COMPRESSION_RATIOS if name.endswith(suffix)), "")
    name = name.removesuffix(compressed)
    return next((fmt for suffix, fmt in FORMATS_BY_SUFFIX.items() if name.endswith(suffix)), None)


def text_bytes(upload: Upload) -> int:
    """The bytes of text the job will read: the object's size, times its compression ratio when compressed."""
    return math.ceil(upload.size * compression_ratio(upload.key))


def object_size(raw: dict[str, Any], key: str) -> int:
    """The object's size: a whole number of bytes above zero (JSON 1e400 is infinity, true is not a size)."""
    if "size" not in raw:
        raise RejectedRecord("missing_size", key=key[:200])
    size = raw["size"]
    if type(size) is not int:
        reason = "bad_size" if not isinstance(size, float) or math.isfinite(size) else "size_not_finite"
        raise RejectedRecord(reason, key=key[:200], size=shown(size, 40))
    if size == 0:
        raise RejectedRecord("empty_object", key=key[:200])
    if not 0 < size <= MAX_OBJECT_BYTES:
        raise RejectedRecord("bad_size", key=key[:200], size=shown(size, 40))
    return size


def parse_record(record: S3EventRecord, environment: SubmitJobEnvironment) -> Upload:
    """Validate one S3 notification record; raise RejectedRecord (with a reason) for anything we must not run.

    Any other exception a malformed record causes is a RejectedRecord too, so one record can never stop the
    records after it."""
    if not isinstance(record.raw_event, dict):
        raise RejectedRecord("record_not_an_object", type=type(record.raw_event).__name__)
    try:
        return _parse_record(record, environment)
    except RejectedRecord:
        raise
    except Exception as error:  # the data class raises KeyError, TypeError, ... for missing or mistyped fields
        raise RejectedRecord("malformed_record", error=f"{type(error).__name__}: {shown(str(error), 100)}") from None


def _parse_record(record: S3EventRecord, environment: SubmitJobEnvironment) -> Upload:
    if record.get("eventSource") != "aws:s3":
        raise RejectedRecord("wrong_event_source", event_source=shown(record.get("eventSource"), 100))
    event_name = record.get("eventName")
    if not isinstance(event_name, str) or not event_name.startswith("ObjectCreated:"):
        raise RejectedRecord("not_object_created", event_name=shown(event_name, 100))
    bucket = record.s3.bucket.name
    if bucket != environment.input_bucket:
        raise RejectedRecord("wrong_bucket", bucket=shown(bucket, 63))
    obj = record.s3.get_object
    key = decode_key(obj.key)
    if not key.startswith(environment.ratings_prefix):
        raise RejectedRecord("key_outside_prefix", key=key[:200])
    fmt = key_format(key)
    if fmt is None:
        raise RejectedRecord("unsupported_suffix", key=key[:200])
    # A key is any UTF-8 text (AWS: "Naming Amazon S3 objects"), and the step's Args take any character but the
    # control ones refused above (AWS: "AWS::EMR::Step HadoopJarStepConfig", Args pattern). So ':', '*', '?',
    # '[', '#', '%', spaces, Unicode pass: the job reads its --ratings as the name it is, never as a glob or
    # through a parser that takes 'a:' for a URI scheme (spark_jobs/als/hadoop_files.py).
    check_path(key)
    size = object_size(obj.raw_event, key)
    # S3 always sends the eTag with ObjectCreated; without it the record is not S3's.
    if not isinstance(obj.raw_event.get("eTag"), str) or not obj.etag:
        raise RejectedRecord("missing_etag", key=key[:200])
    version = obj.version_id if isinstance(obj.version_id, str) and obj.version_id else obj.etag
    when = datetime.fromisoformat(record.event_time)
    if when.tzinfo is None:
        raise RejectedRecord("bad_event_time", event_time=shown(record.event_time, 40))
    upload = Upload(
        bucket=bucket, key=key, version=version, fmt=fmt, event_time=when.astimezone(UTC).isoformat(), size=size
    )
    upload.run_id  # noqa: B018 - a date that makes no run id is refused here, not at submission
    return upload


def build_step(environment: SubmitJobEnvironment, upload: Upload, run_id: str) -> dict[str, Any]:
    """The EMR step: the template's spark-submit command plus this object's job arguments."""
    step = copy.deepcopy(environment.step_template)
    step["Name"] = step_name(environment.cluster_name_prefix, run_id)
    step["HadoopJarStep"]["Args"] = [
        *step["HadoopJarStep"]["Args"],
        "--ratings",
        f"s3://{upload.bucket}/{upload.key}",
        "--format",
        upload.fmt,
        "--output",
        environment.results_uri,
        "--run-id",
        run_id,
    ]
    return step


def read(call: Callable[..., Any], **kwargs: Any) -> Any:
    """A read-only EMR call, repeated after throttling or a server error (safe: it changes nothing)."""
    for delay in READ_RETRY_DELAYS:
        try:
            return call(**kwargs)
        except Exception as error:
            if not is_retryable(error):
                raise
            time.sleep(delay)
    return call(**kwargs)


def existing_cluster(emr: Any, environment: SubmitJobEnvironment, upload: Upload, run_id: str) -> str | None:
    """The id of a cluster already started for this run (any state), found by its exact name.

    EMR itself is the record of what was started: the idempotency table can miss a start (its write throttled after
    RunJobFlow succeeded, or the response lost), EMR cannot. Only clusters created since the upload are listed."""
    name = transient_cluster_name(environment.cluster_name_prefix, run_id)
    marker: str | None = None
    while True:
        page = read(
            emr.list_clusters, CreatedAfter=upload.created - CLOCK_SKEW, **({"Marker": marker} if marker else {})
        )
        found = [cluster["Id"] for cluster in page.get("Clusters", []) if cluster.get("Name") == name]
        if found:
            return min(found)
        marker = page.get("Marker")
        if not marker:
            return None


def existing_step(emr: Any, environment: SubmitJobEnvironment, upload: Upload, run_id: str) -> str | None:
    """The id of a step already added for this run to the standing cluster, found by its exact name.

    ListSteps returns the newest first, so the listing stops at the first step created before the upload."""
    name = step_name(environment.cluster_name_prefix, run_id)
    since = upload.created - CLOCK_SKEW
    marker: str | None = None
    while True:
        page = read(emr.list_steps, ClusterId=environment.standing_cluster_id, **({"Marker": marker} if marker else {}))
        for step in page.get("Steps", []):
            if step.get("Name") == name:
                return str(step["Id"])
            created = step.get("Status", {}).get("Timeline", {}).get("CreationDateTime")
            if isinstance(created, datetime) and created < since:
                return None
        marker = page.get("Marker")
        if not marker:
            return None


def start_job(emr: Any, environment: SubmitJobEnvironment, upload: Upload, run_id: str) -> dict[str, str]:
    """Start the ALS step, unless EMR already has it: a new transient cluster, or a step on the standing cluster.

    ``emr`` must not retry on its own (see READ_RETRY_DELAYS). When the start request fails in a way that may
    have reached EMR (a lost response, a server error), EMR is asked again before the error is raised, and the
    redelivery that follows asks once more: one upload never starts two clusters."""
    step = build_step(environment, upload, run_id)
    if environment.cluster_mode == "transient":
        shape = shape_for(text_bytes(upload), environment.cluster_sizing)
        job_flow, label = shaped_job_flow(environment.job_flow_template, shape)

        def find_cluster() -> str | None:
            return existing_cluster(emr, environment, upload, run_id)

        def run_job_flow() -> str:
            response = emr.run_job_flow(
                **job_flow, Name=transient_cluster_name(environment.cluster_name_prefix, run_id), Steps=[step]
            )
            return str(response["JobFlowId"])

        cluster_id, existed = start_once(find_cluster, run_job_flow)
        return {
            "run_id": run_id,
            "cluster_id": cluster_id,
            "step_name": step["Name"],
            "cluster_shape": label,
            **existed,
        }

    def find_step() -> str | None:
        return existing_step(emr, environment, upload, run_id)

    def add_step() -> str:
        return str(emr.add_job_flow_steps(JobFlowId=environment.standing_cluster_id, Steps=[step])["StepIds"][0])

    step_id, existed = start_once(find_step, add_step)
    return {
        "run_id": run_id,
        "cluster_id": environment.standing_cluster_id,
        "step_id": step_id,
        "step_name": step["Name"],
        **existed,
    }


def start_once(find: Callable[[], str | None], start: Callable[[], str]) -> tuple[str, dict[str, str]]:
    """Look before starting, and again when a start fails in a way that may have reached EMR. Returns the id and
    ``{"existing": "true"}`` when an earlier delivery had started it, ``{"recovered": "true"}`` when this one did
    but lost the response."""
    found = find()
    if found is not None:
        return found, {"existing": "true"}
    try:
        return start(), {}
    except Exception as error:
        if not is_retryable(error):
            raise
        found = find()
        if found is None:
            raise
        return found, {"recovered": "true"}
