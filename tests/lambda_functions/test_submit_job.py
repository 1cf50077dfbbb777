"""submit_job: one ALS job per new ratings object version, with the right arguments, at most once; each record
judged on its own; at most MAX_JOBS_PER_INVOCATION jobs per invocation, the rest left for the retry."""

from __future__ import annotations

import copy
import json
import os

import pytest

from lab_contract.environments import InvalidEnvironment, SubmitJobEnvironment
from lambda_functions.submit_job import submission

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


NOTHING_MORE = {"submitted": [], "duplicates": 1, "rejected": [], "retry": [], "failed": [], "deferred": []}


def test_duplicate_delivery_starts_nothing(submit_job, aws, events, context):
    event = events.s3("ratings/ml-100k/u.data")
    first = submit_job.lambda_handler(event, context)
    again = submit_job.lambda_handler(event, context)
    # A redelivery may differ in metadata (request id, time) but not in bucket/key/eTag.
    redelivered = events.s3("ratings/ml-100k/u.data", event_time="2026-11-25T10:16:00.000Z")
    redelivered["Records"][0]["responseElements"]["x-amz-request-id"] = "OTHER"
    third = submit_job.lambda_handler(redelivered, context)

    assert len(first["submitted"]) == 1
    assert again == third == NOTHING_MORE
    assert len(aws.clusters()) == 1 and len(aws.all_steps()) == 1


def test_new_version_of_the_same_key_starts_a_new_job(submit_job, aws, events, context):
    first = submit_job.lambda_handler(events.s3("ratings/u.data", etag="a" * 32), context)
    second = submit_job.lambda_handler(events.s3("ratings/u.data", etag="b" * 32), context)
    versioned = submit_job.lambda_handler(events.s3("ratings/u.data", etag="b" * 32, version_id="v3"), context)

    run_ids = first["submitted"] + second["submitted"] + versioned["submitted"]
    assert len(set(run_ids)) == 3
    assert len(aws.clusters()) == 3


def upload_of(submit_job, event):
    environment = SubmitJobEnvironment.from_environ(os.environ)
    return submission.parse_record(submit_job.S3EventRecord(event["Records"][0]), environment)


def test_run_id_is_deterministic_per_object_version(submit_job, events):
    one = upload_of(submit_job, events.s3("ratings/u.data", etag="a" * 32)).run_id
    same = upload_of(submit_job, events.s3("ratings/u.data", etag="a" * 32)).run_id
    other = upload_of(submit_job, events.s3("ratings/u.data", etag="c" * 32)).run_id
    assert one == same != other
    assert one.startswith("20261125-") and len(one) == len("20261125-") + 12
    # The date is the event's in UTC, whatever offset S3's clock wrote.
    late = upload_of(submit_job, events.s3("ratings/u.data", etag="a" * 32, event_time="2026-11-26T00:30:00+01:00"))
    assert late.run_id == one


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
    "ratings/v1.2/u.data",  # dots inside a name are not dot segments
    "ratings/x_y/u.data",
    "ratings/data./u.data",
    "ratings/my%5Fdata/u_1.data",  # '_' inside a name is not hidden
]


def test_good_events_replayed_twice_submit_exactly_once(submit_job, aws, events, context):
    for raw_key in GOOD_KEYS:
        first = submit_job.lambda_handler(events.s3(raw_key), context)
        second = submit_job.lambda_handler(events.s3(raw_key), context)
        assert len(first["submitted"]) == 1, raw_key
        assert second == NOTHING_MORE, raw_key
    assert len(aws.clusters()) == len(GOOD_KEYS)
    assert len(aws.all_steps()) == len(GOOD_KEYS)


# ------------------------------------------------------------------------------------------------ one record at a time
def records(events, *specs):
    """One event with a record per spec: a raw key, or (raw key, {object field: value}) to override the object."""
    batch = []
    for spec in specs:
        raw_key, overrides = spec if isinstance(spec, tuple) else (spec, {})
        record = events.s3(raw_key, etag=f"{len(batch):032x}")["Records"][0]
        record["s3"]["object"].update(overrides)
        batch.append(record)
    return {"Records": batch}


def test_one_bad_record_does_not_stop_the_good_ones(submit_job, aws, events, context):
    good = events.s3("ratings/u.data")["Records"][0]
    bad = events.s3("elsewhere/u.data")["Records"][0]
    summary = submit_job.lambda_handler({"Records": [bad, "junk", good]}, context)

    assert len(summary["submitted"]) == 1
    assert [r["reason"] for r in summary["rejected"]] == ["key_outside_prefix", "record_not_an_object"]
    assert len(aws.clusters()) == 1


BAD_SIZES = [
    (float("inf"), "size_not_finite"),  # JSON 1e400
    (float("-inf"), "size_not_finite"),
    (float("nan"), "size_not_finite"),
    (-1, "bad_size"),
    (1.5, "bad_size"),
    (1979173.0, "bad_size"),
    (True, "bad_size"),
    ("12", "bad_size"),
    (None, "bad_size"),
    ([12], "bad_size"),
    ({"bytes": 12}, "bad_size"),
    (2**64, "bad_size"),
    (10**5000, "bad_size"),  # an integer repr() cannot even print
    (0, "empty_object"),
]


def test_bad_sizes_reject_their_records_and_the_valid_ones_around_them_are_submitted(
    submit_job, aws, events, context, logs, lambda_env
):
    lambda_env.setenv("MAX_JOBS_PER_INVOCATION", "100")
    specs = []
    for number, (size, _reason) in enumerate(BAD_SIZES):
        specs += [f"ratings/good-{number}.data", (f"ratings/bad-{number}.data", {"size": size})]
    event = records(events, *specs, "ratings/last.data")
    summary = submit_job.lambda_handler(event, context)

    assert summary["rejected"] == [{"reason": reason, "record": 2 * n + 1} for n, (_, reason) in enumerate(BAD_SIZES)]
    assert len(summary["submitted"]) == len(BAD_SIZES) + 1 == len(aws.clusters())
    warned = [entry.get("reason") for entry in logs if entry["level"] == "WARNING"]
    assert warned == [reason for _, reason in BAD_SIZES]
    again = submit_job.lambda_handler(copy.deepcopy(event), context)  # a redelivery: nothing new, same verdicts
    assert again["duplicates"] == len(BAD_SIZES) + 1 and again["rejected"] == summary["rejected"]


def test_an_infinite_size_from_the_json_text_itself_is_rejected(submit_job, aws, events, context):
    """What the review sent: valid JSON whose number reads as infinity, with valid records after it, twice."""
    text = json.dumps(records(events, "ratings/a.data", ("ratings/big.data", {"size": 7}), "ratings/c.data"))
    event_text = text.replace('"size": 7', '"size": 1e400', 1)
    for attempt in (1, 2):
        summary = submit_job.lambda_handler(json.loads(event_text), context)
        assert summary["rejected"] == [{"reason": "size_not_finite", "record": 1}], attempt
    assert len(aws.clusters()) == 2


def test_records_beyond_the_cap_wait_for_the_retry_and_none_is_lost_or_started_twice(
    submit_job, aws, events, context, lambda_env
):
    lambda_env.setenv("MAX_JOBS_PER_INVOCATION", "3")
    keys = [f"ratings/batch/part-{n}.data" for n in range(8)]
    event = records(events, keys[0], "elsewhere/x.data", *keys[1:], ("ratings/batch/empty.data", {"size": 0}))
    redelivery = submit_job.RedeliveryWanted

    with pytest.raises(redelivery, match=r"'deferred': 5"):
        submit_job.lambda_handler(json.loads(json.dumps(event)), context)
    assert len(aws.clusters()) == 3
    with pytest.raises(redelivery, match=r"'deferred': 2"):
        submit_job.lambda_handler(json.loads(json.dumps(event)), context)  # Lambda's first retry
    assert len(aws.clusters()) == 6
    last = submit_job.lambda_handler(json.loads(json.dumps(event)), context)  # the second retry
    assert len(last["submitted"]) == 2 and last["duplicates"] == 6
    assert [r["reason"] for r in last["rejected"]] == ["key_outside_prefix", "empty_object"]
    names = sorted(cluster["Name"] for cluster in aws.clusters())
    assert len(names) == len(set(names)) == len(keys)


def test_the_cap_counts_started_jobs_only(submit_job, aws, events, context, lambda_env):
    lambda_env.setenv("MAX_JOBS_PER_INVOCATION", "1")
    submit_job.lambda_handler(events.s3("ratings/first.data"), context)
    first = events.s3("ratings/first.data")["Records"][0]
    second = events.s3("ratings/second.data")["Records"][0]
    summary = submit_job.lambda_handler({"Records": [first, second]}, context)  # a duplicate does not use the cap
    assert summary["duplicates"] == 1 and len(summary["submitted"]) == 1
    assert len(aws.clusters()) == 2


@pytest.mark.parametrize("cap", ["0", "-1", "two", "1.5", ""])
def test_a_cap_that_is_not_a_positive_whole_number_is_a_deployment_bug(
    submit_job, aws, events, context, lambda_env, cap
):
    lambda_env.setenv("MAX_JOBS_PER_INVOCATION", cap)
    with pytest.raises(InvalidEnvironment, match="MAX_JOBS_PER_INVOCATION"):
        submit_job.lambda_handler(events.s3("ratings/u.data"), context)
    assert aws.clusters() == []


def test_standing_mode_without_cluster_id_fails_loudly(submit_job, aws, events, context, lambda_env):
    lambda_env.setenv("CLUSTER_MODE", "standing")
    lambda_env.delenv("STANDING_CLUSTER_ID", raising=False)
    with pytest.raises(ValueError, match="STANDING_CLUSTER_ID is empty in standing mode"):
        submit_job.lambda_handler(events.s3("ratings/u.data"), context)
    assert aws.clusters() == []


# The cluster states of "ClusterStatus" (EMR API reference): the last three have ended or are ending.
ENDED = ["TERMINATING", "TERMINATED", "TERMINATED_WITH_ERRORS"]
RUNNING = ["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING"]


def in_standing_mode(aws, lambda_env) -> str:
    cluster_id = aws.standing_cluster()
    lambda_env.setenv("CLUSTER_MODE", "standing")
    lambda_env.setenv("STANDING_CLUSTER_ID", cluster_id)
    return cluster_id


def described_as(cluster_id: str, state: str) -> dict:
    reason = {"Code": "ALL_STEPS_COMPLETED", "Message": "Cluster was terminated after being idle"}
    return {"Cluster": {"Id": cluster_id, "Status": {"State": state, "StateChangeReason": reason}}}


def test_an_upload_to_an_ended_standing_cluster_is_refused_with_what_to_do_and_never_retried(
    submit_job, aws, events, context, lambda_env, logs
):
    """The spend guard (or the idle timeout) ended the cluster: the upload is refused, the invocation returns (no
    Lambda retry, nothing in the on-failure destination), and the log says how to bring the cluster back."""
    ended = in_standing_mode(aws, lambda_env)
    aws.emr.terminate_job_flows(JobFlowIds=[ended])
    event = events.s3("ratings/ml-100k/u.data")

    summary = submit_job.lambda_handler(event, context)

    assert summary == {**NOTHING_MORE, "duplicates": 0, "rejected": [{"reason": "standing_cluster_ended", "record": 0}]}
    assert aws.steps(ended) == []
    [entry] = [entry for entry in logs if entry.get("reason") == "standing_cluster_ended"]
    assert entry["level"] == "WARNING" and entry["message"] == "record rejected" and entry["state"] == "TERMINATED"
    assert entry["action"] == (
        f"the standing cluster {ended} has ended (idle/age): run `make restart-standing`, then upload again"
    )
    # Nothing is recorded as done: once the cluster is back (a new id), the same upload starts its step.
    restarted = in_standing_mode(aws, lambda_env)
    again = submit_job.lambda_handler(event, context)
    assert len(again["submitted"]) == 1 and again["rejected"] == []
    assert len(aws.steps(restarted)) == 1 and aws.steps(ended) == []


@pytest.mark.parametrize("state", ENDED + RUNNING)
def test_only_a_cluster_that_has_ended_refuses_the_upload(submit_job, aws, events, context, lambda_env, faults, state):
    cluster_id = in_standing_mode(aws, lambda_env)
    emr = faults.emr(aws).respond("describe_cluster", described_as(cluster_id, state))

    summary = submit_job.lambda_handler(events.s3("ratings/ml-100k/u.data"), context)

    if state in ENDED:
        assert summary["rejected"] == [{"reason": "standing_cluster_ended", "record": 0}]
        assert summary["submitted"] == [] and aws.steps(cluster_id) == []
        assert "add_job_flow_steps" not in emr.calls
    else:
        assert summary["rejected"] == [] and len(summary["submitted"]) == 1
        assert len(aws.steps(cluster_id)) == 1


def test_every_record_of_a_batch_to_an_ended_cluster_is_refused_and_the_bad_ones_keep_their_reason(
    submit_job, aws, events, context, lambda_env
):
    ended = in_standing_mode(aws, lambda_env)
    aws.emr.terminate_job_flows(JobFlowIds=[ended])
    batch = records(events, "ratings/a/u.data", "elsewhere/u.data", "ratings/b/ratings.csv")

    summary = submit_job.lambda_handler(batch, context)

    assert summary["rejected"] == [
        {"reason": "standing_cluster_ended", "record": 0},
        {"reason": "key_outside_prefix", "record": 1},
        {"reason": "standing_cluster_ended", "record": 2},
    ]
    assert aws.steps(ended) == []


def test_a_throttled_describe_is_asked_again_and_the_step_is_added(
    submit_job, aws, events, context, lambda_env, faults
):
    cluster_id = in_standing_mode(aws, lambda_env)
    throttled = faults.client_error("ThrottlingException", 400, "DescribeCluster")
    emr = faults.emr(aws).fail("describe_cluster", throttled)

    summary = submit_job.lambda_handler(events.s3("ratings/ml-100k/u.data"), context)

    assert len(summary["submitted"]) == 1 and len(aws.steps(cluster_id)) == 1
    assert emr.calls["describe_cluster"] == 1  # the throttled call never reached EMR; the second one did
