"""submit_job: one ALS job per new ratings object version, with the right arguments, at most once."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

UPLOADS = [
    # (raw key as S3 sends it, decoded key, --format)
    ("ratings/ml-100k/u.data", "ratings/ml-100k/u.data", "udata"),
    ("ratings/ml-100k/u1.base", "ratings/ml-100k/u1.base", "udata"),
    ("ratings/ml-100k/u1.test", "ratings/ml-100k/u1.test", "udata"),
    ("ratings/ml-latest-small/ratings.csv", "ratings/ml-latest-small/ratings.csv", "csv"),
    ("ratings/ml-1m/ratings.dat", "ratings/ml-1m/ratings.dat", "dat"),
    ("ratings/my+upload+2026/u.data", "ratings/my upload 2026/u.data", "udata"),
    ("ratings/plus%2Bsign/ratings.CSV", "ratings/plus+sign/ratings.CSV", "csv"),
    ("ratings/caf%C3%A9+%E6%98%A0%E7%94%BB/ratings.dat", "ratings/café 映画/ratings.dat", "dat"),
]


def expected_args(events, decoded_key: str, fmt: str, run_id: str) -> list[str]:
    return [
        *events.job_args,
        "--ratings",
        f"s3://{events.input_bucket}/{decoded_key}",
        "--format",
        fmt,
        "--output",
        events.results_uri,
        "--run-id",
        run_id,
    ]


@pytest.mark.parametrize(("raw_key", "decoded_key", "fmt"), UPLOADS, ids=[u[0] for u in UPLOADS])
def test_transient_mode_starts_one_cluster_with_the_als_step(
    submit_job, aws, events, context, raw_key, decoded_key, fmt
):
    summary = submit_job.lambda_handler(events.s3(raw_key), context)

    assert summary["duplicates"] == 0 and summary["rejected"] == []
    [run_id] = summary["submitted"]
    [cluster] = aws.clusters()
    assert cluster["Name"] == f"{events.prefix}-{run_id}"
    described = aws.emr.describe_cluster(ClusterId=cluster["Id"])["Cluster"]
    assert [tag for tag in described["Tags"] if tag["Key"] in ("project", "stage")] == events.project_tags
    shape_tags = {tag["Key"]: tag["Value"] for tag in described["Tags"] if tag["Key"] not in ("project", "stage")}
    assert shape_tags == {"cluster-shape": "primary:1xm5.xlarge core:0", "input-bytes": "1979173"}
    assert described["ReleaseLabel"] == events.job_flow_template["ReleaseLabel"]
    [step] = aws.steps(cluster["Id"])
    assert step["Name"] == f"{events.prefix}-als-{run_id}"
    assert step["ActionOnFailure"] == "TERMINATE_CLUSTER"
    assert step["Config"]["Jar"] == "command-runner.jar"
    assert step["Config"]["Args"] == expected_args(events, decoded_key, fmt, run_id)


@pytest.mark.parametrize(("raw_key", "decoded_key", "fmt"), UPLOADS, ids=[u[0] for u in UPLOADS])
def test_standing_mode_adds_one_step_to_the_standing_cluster(
    submit_job, aws, events, context, lambda_env, raw_key, decoded_key, fmt
):
    cluster_id = aws.standing_cluster()
    lambda_env.setenv("CLUSTER_MODE", "standing")
    lambda_env.setenv("STANDING_CLUSTER_ID", cluster_id)

    summary = submit_job.lambda_handler(events.s3(raw_key), context)

    [run_id] = summary["submitted"]
    assert [c["Id"] for c in aws.clusters()] == [cluster_id]  # no new cluster
    [step] = aws.steps(cluster_id)
    assert step["Name"] == f"{events.prefix}-als-{run_id}"
    assert step["Config"]["Args"] == expected_args(events, decoded_key, fmt, run_id)


def test_duplicate_delivery_starts_nothing(submit_job, aws, events, context):
    event = events.s3("ratings/ml-100k/u.data")
    first = submit_job.lambda_handler(event, context)
    again = submit_job.lambda_handler(event, context)
    # A redelivery may differ in metadata (request id, time) but not in bucket/key/eTag.
    redelivered = events.s3("ratings/ml-100k/u.data", event_time="2026-11-25T10:16:00.000Z")
    redelivered["Records"][0]["responseElements"]["x-amz-request-id"] = "OTHER"
    third = submit_job.lambda_handler(redelivered, context)

    assert len(first["submitted"]) == 1
    assert again == {"submitted": [], "duplicates": 1, "rejected": []}
    assert third == {"submitted": [], "duplicates": 1, "rejected": []}
    assert len(aws.clusters()) == 1 and len(aws.all_steps()) == 1


def test_new_version_of_the_same_key_starts_a_new_job(submit_job, aws, events, context):
    first = submit_job.lambda_handler(events.s3("ratings/u.data", etag="a" * 32), context)
    second = submit_job.lambda_handler(events.s3("ratings/u.data", etag="b" * 32), context)
    versioned = submit_job.lambda_handler(events.s3("ratings/u.data", etag="b" * 32, version_id="v3"), context)

    run_ids = first["submitted"] + second["submitted"] + versioned["submitted"]
    assert len(set(run_ids)) == 3
    assert len(aws.clusters()) == 3


def test_run_id_is_deterministic_per_object_version(submit_job, events):
    submission = __import__("submission")
    settings = submission.Settings.from_env(__import__("os").environ)
    parse = lambda event: submission.parse_record(submit_job.S3EventRecord(event["Records"][0]), settings)  # noqa: E731
    one = submission.run_id_for(parse(events.s3("ratings/u.data", etag="a" * 32)))
    same = submission.run_id_for(parse(events.s3("ratings/u.data", etag="a" * 32)))
    other = submission.run_id_for(parse(events.s3("ratings/u.data", etag="c" * 32)))
    assert one == same != other
    assert one.startswith("20261125-") and len(one) == len("20261125-") + 12


def test_one_bad_record_does_not_stop_the_good_ones(submit_job, aws, events, context):
    good = events.s3("ratings/u.data")["Records"][0]
    bad = events.s3("elsewhere/u.data")["Records"][0]
    summary = submit_job.lambda_handler({"Records": [bad, "junk", good]}, context)

    assert len(summary["submitted"]) == 1
    assert [r["reason"] for r in summary["rejected"]] == ["key_outside_prefix", "record_not_an_object"]
    assert len(aws.clusters()) == 1


class FailingEmr:
    """Wraps the moto EMR client; the first run_job_flow calls fail with the given error code."""

    def __init__(self, real, code: str, status: int, failures: int = 1):
        self.real, self.code, self.status, self.failures = real, code, status, failures

    def run_job_flow(self, **kwargs):
        if self.failures:
            self.failures -= 1
            raise ClientError(
                {
                    "Error": {"Code": self.code, "Message": "injected"},
                    "ResponseMetadata": {"HTTPStatusCode": self.status},
                },
                "RunJobFlow",
            )
        return self.real.run_job_flow(**kwargs)


def test_throttling_escapes_for_retry_and_the_redelivery_submits_once(submit_job, aws, events, context, monkeypatch):
    failing = FailingEmr(aws.emr, "ThrottlingException", 400)
    monkeypatch.setattr(submit_job, "emr_client", lambda: failing)
    event = events.s3("ratings/ml-1m/ratings.dat")

    with pytest.raises(ClientError) as raised:
        submit_job.lambda_handler(event, context)
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    assert aws.clusters() == []
    assert aws.idempotency_items() == []  # Powertools deleted the in-progress record: not "COMPLETED"

    retried = submit_job.lambda_handler(event, context)  # Lambda's async retry
    again = submit_job.lambda_handler(event, context)
    assert len(retried["submitted"]) == 1 and again["duplicates"] == 1
    assert len(aws.clusters()) == 1
    [item] = aws.idempotency_items()
    assert item["status"]["S"] == "COMPLETED"


def test_server_error_escapes_for_retry(submit_job, aws, events, context, monkeypatch):
    monkeypatch.setattr(submit_job, "emr_client", lambda: FailingEmr(aws.emr, "InternalServerError", 500))
    with pytest.raises(ClientError):
        submit_job.lambda_handler(events.s3("ratings/u.data"), context)
    assert aws.idempotency_items() == []


def test_request_emr_refuses_is_reported_not_retried(submit_job, aws, events, context, monkeypatch, logs):
    monkeypatch.setattr(submit_job, "emr_client", lambda: FailingEmr(aws.emr, "ValidationException", 400))
    summary = submit_job.lambda_handler(events.s3("ratings/u.data"), context)
    assert summary["submitted"] == []
    assert summary["rejected"] == [{"reason": "emr_refused", "record": 0, "code": "ValidationException"}]
    assert any(entry["level"] == "ERROR" and entry.get("code") == "ValidationException" for entry in logs)


def test_standing_mode_without_cluster_id_fails_loudly(submit_job, aws, events, context, lambda_env):
    lambda_env.setenv("CLUSTER_MODE", "standing")
    lambda_env.delenv("STANDING_CLUSTER_ID", raising=False)
    with pytest.raises(ValueError, match="STANDING_CLUSTER_ID is empty in standing mode"):
        submit_job.lambda_handler(events.s3("ratings/u.data"), context)
    assert aws.clusters() == []


def test_it_never_writes_to_s3(submit_job, aws, events, context):
    submit_job.lambda_handler(events.s3("ratings/u.data"), context)
    for bucket in (events.input_bucket, events.results_bucket):
        assert aws.objects(bucket) == []


GOOD_KEYS = [
    "ratings/ml-100k/u.data",
    "ratings/ml-100k/ua.base",
    "ratings/ml-100k/ua.test",
    "ratings/ml-latest-small/ratings.csv",
    "ratings/ml-1m/ratings.dat",
    "ratings/with+spaces/u.data",
    "ratings/with%2Bplus/u.data",
    "ratings/%E6%98%A0%E7%94%BB/ratings.csv",
]


def test_good_events_replayed_twice_submit_exactly_once(submit_job, aws, events, context):
    for raw_key in GOOD_KEYS:
        first = submit_job.lambda_handler(events.s3(raw_key), context)
        second = submit_job.lambda_handler(events.s3(raw_key), context)
        assert len(first["submitted"]) == 1, raw_key
        assert second == {"submitted": [], "duplicates": 1, "rejected": []}, raw_key
    assert len(aws.clusters()) == len(GOOD_KEYS)
    assert len(aws.all_steps()) == len(GOOD_KEYS)
