"""Malformed and edge events (tests/lambda_functions/corpus/*.json) go through every handler: nothing escapes,
nothing starts, nothing is written, and the reason is logged."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

CORPUS = sorted((Path(__file__).parent / "corpus").glob("*.json"))

# The reason submit_job must give for each S3-shaped corpus event (a wrong reason means a check is missing).
SUBMIT_REASONS = {
    "s3-missing-records": "missing_records",
    "s3-empty-records": "empty_records",
    "s3-records-not-a-list": "records_not_a_list",
    "s3-records-null": "records_not_a_list",
    "s3-record-is-a-string": "record_not_an_object",
    "s3-record-is-null": "record_not_an_object",
    "s3-wrong-event-source": "wrong_event_source",
    "s3-missing-event-source": "wrong_event_source",
    "s3-object-removed": "not_object_created",
    "s3-object-restore-completed": "not_object_created",
    "s3-missing-event-name": "not_object_created",
    "s3-test-event": "s3_test_event",
    "s3-key-outside-prefix": "key_outside_prefix",
    "s3-key-prefix-lookalike": "key_outside_prefix",
    "s3-key-is-the-prefix-folder": "unsupported_suffix",
    "s3-unsupported-suffix": "unsupported_suffix",
    "s3-no-suffix": "unsupported_suffix",
    "s3-zip-archive": "unsupported_suffix",
    "s3-enormous-key": "key_too_long",
    "s3-key-over-1024-bytes-after-decoding": "key_too_long",
    "s3-bad-percent-encoding": "bad_percent_encoding",
    "s3-truncated-percent-escape": "bad_percent_encoding",
    "s3-invalid-utf8-after-decoding": "key_not_utf8",
    "s3-overlong-utf8-slash": "key_not_utf8",
    "s3-lone-surrogate-utf8": "key_not_utf8",
    "s3-control-char-newline": "key_has_control_chars",
    "s3-control-char-nul": "key_has_control_chars",
    "s3-control-char-escape-sequence": "key_has_control_chars",
    "s3-zero-size": "empty_object",
    "s3-negative-size": "bad_size",
    "s3-missing-size": "missing_size",
    "s3-size-not-a-number": "bad_size",
    "s3-size-infinite": "size_not_finite",
    "s3-size-negative-infinite": "size_not_finite",
    "s3-size-nan": "size_not_finite",
    "s3-size-fraction": "bad_size",
    "s3-size-boolean": "bad_size",
    "s3-size-numeric-string": "bad_size",
    "s3-size-above-any-object": "bad_size",
    "s3-size-null": "bad_size",
    "s3-dot-dot-segment": "key_has_dot_segment",
    "s3-dot-dot-segment-escaping-the-prefix": "key_has_dot_segment",
    "s3-percent-encoded-dot-dot": "key_has_dot_segment",
    "s3-lowercase-percent-encoded-dot": "key_has_dot_segment",
    "s3-double-percent-encoded-dot-dot": "key_has_dot_segment",
    "s3-single-dot-segment": "key_has_dot_segment",
    "s3-empty-segment": "key_has_dot_segment",
    "s3-percent-encoded-slash-empty-segment": "key_has_dot_segment",
    "s3-trailing-dot-dot-before-name": "key_has_dot_segment",
    "s3-hidden-underscore-file": "key_hidden_from_spark",
    "s3-hidden-dot-file": "key_hidden_from_spark",
    "s3-hidden-underscore-folder": "key_hidden_from_spark",
    "s3-hidden-dot-folder": "key_hidden_from_spark",
    "s3-percent-encoded-hidden-name": "key_hidden_from_spark",
    "s3-hidden-success-marker-name": "key_hidden_from_spark",
    "s3-event-time-without-zone": "bad_event_time",
    "s3-event-time-year-999": "malformed_record",
    "s3-missing-etag": "missing_etag",
    "s3-missing-etag-with-version-id": "missing_etag",
    "s3-wrong-bucket": "wrong_bucket",
    "s3-missing-bucket": "malformed_record",
    "s3-missing-s3-entity": "malformed_record",
    "s3-missing-object": "malformed_record",
    "s3-key-not-a-string": "missing_key",
    "s3-empty-key": "missing_key",
    "s3-bad-event-time": "malformed_record",
    "s3-missing-event-time": "malformed_record",
    "s3-via-eventbridge-shape": "missing_records",
}
EMR_REASONS = {
    "emr-unknown-step-state": "unknown_step_state",
    "emr-step-state-missing": "unknown_step_state",
    "emr-unknown-cluster-state": "unknown_cluster_state",
    "emr-other-project-step": "not_this_project",
    "emr-other-project-cluster": "not_this_project",
    "emr-prefix-lookalike-cluster": "not_this_project",
    "emr-missing-detail": "missing_detail",
    "emr-detail-not-an-object": "missing_detail",
    "emr-wrong-source": "wrong_source",
    "emr-spoofed-custom-source": "wrong_source",
    "emr-unknown-detail-type": "unknown_detail_type",
    "emr-missing-detail-type": "unknown_detail_type",
    "emr-step-name-without-run-id": "not_this_project",
    "emr-step-name-path-traversal": "not_this_project",
    "emr-step-state-is-a-list": "unknown_step_state",
    "emr-step-state-is-an-object": "unknown_step_state",
    "emr-step-state-is-a-number": "unknown_step_state",
    "emr-step-state-is-null": "unknown_step_state",
    "emr-cluster-state-is-a-list": "unknown_cluster_state",
    "emr-cluster-state-is-an-object": "unknown_cluster_state",
    "emr-cluster-state-is-a-boolean": "unknown_cluster_state",
    "emr-lookalike-stage-prod-of-project-ml-lab-dev-cluster": "not_this_project",
    "emr-lookalike-stage-prod-of-project-ml-lab-dev-standing": "not_this_project",
    "emr-lookalike-project-ml-lab-dev-als-cluster": "not_this_project",
    "emr-lookalike-run-id-with-a-suffix": "not_this_project",
    "emr-lookalike-standing-with-a-suffix": "not_this_project",
    "emr-lookalike-run-id-in-other-digits": "not_this_project",
    "emr-lookalike-project-ml-lab-dev-als-step": "not_this_project",
    "emr-lookalike-stage-prod-of-project-ml-lab-dev-step": "not_this_project",
    "emr-lookalike-step-run-id-uppercase-hex": "not_this_project",
    "emr-lookalike-step-run-id-too-long": "not_this_project",
    "emr-lookalike-step-of-a-custom-run-id": "not_this_project",
    "emr-step-name-missing": "not_this_project",
    "emr-bad-cluster-id": "bad_cluster_id",
    "emr-bad-step-id": "bad_step_id",
    "emr-bad-event-id": "bad_event_id",
    "emr-missing-event-id": "bad_event_id",
}


def test_corpus_is_big_enough_and_every_s3_and_emr_event_has_an_expected_reason():
    names = {path.stem for path in CORPUS}
    assert len(names) >= 100
    assert {n for n in names if n.startswith("s3-")} == set(SUBMIT_REASONS)
    assert {n for n in names if n.startswith("emr-")} == set(EMR_REASONS)


def reasons_logged(logs, start: int) -> list[tuple[str, str]]:
    return [(entry["level"], entry["reason"]) for entry in logs[start:] if "reason" in entry]


@pytest.fixture(scope="module")
def bait(shared_aws):
    """A project cluster the guard would terminate if it acted on a bad event (the tests move the clock on)."""
    return shared_aws.standing_cluster()


@pytest.mark.parametrize("path", CORPUS, ids=[path.stem for path in CORPUS])
def test_bad_event_is_rejected_by_every_handler(
    path, submit_job, emr_events, spend_guard, shared_aws, bait, events, context, logs, monkeypatch, lambda_env
):
    # One account for the whole corpus keeps the suite fast; every test asserts it is still untouched.
    aws = shared_aws
    lambda_env.setenv("TOPIC_ARN", aws.topic_arn)
    event = json.loads(path.read_text(encoding="utf-8"))
    monkeypatch.setattr(spend_guard, "utc_now", lambda: datetime.now(UTC) + timedelta(days=1))

    start = len(logs)
    summary = submit_job.lambda_handler(json.loads(json.dumps(event)), context)
    assert summary["submitted"] == [] and summary["duplicates"] == 0
    submit_reasons = reasons_logged(logs, start)
    assert submit_reasons and all(level in ("WARNING", "INFO") for level, _ in submit_reasons)
    if path.stem in SUBMIT_REASONS:
        assert [r["reason"] for r in summary["rejected"]] == [SUBMIT_REASONS[path.stem]]
        assert submit_reasons == [("WARNING", SUBMIT_REASONS[path.stem])]

    start = len(logs)
    outcome = emr_events.lambda_handler(json.loads(json.dumps(event)), context)
    assert outcome["recorded"] is None
    emr_reasons = reasons_logged(logs, start)
    assert len(emr_reasons) == 1 and emr_reasons[0][0] in ("WARNING", "INFO")
    if path.stem in EMR_REASONS:
        assert outcome["ignored"] == EMR_REASONS[path.stem] == emr_reasons[0][1]

    start = len(logs)
    guarded = spend_guard.lambda_handler(json.loads(json.dumps(event)), context)
    assert guarded["terminated"] == [] and guarded["ignored"] == "not_a_scheduled_event"
    assert reasons_logged(logs, start) == [("WARNING", "not_a_scheduled_event")]

    # Nothing started, written, announced or remembered.
    assert [cluster["Id"] for cluster in aws.clusters()] == [bait]
    assert aws.emr.describe_cluster(ClusterId=bait)["Cluster"]["Status"]["State"] == "WAITING"
    assert aws.steps(bait) == []
    for bucket in ("ml-lab-input", events.results_bucket, "ml-lab-logs"):
        assert aws.objects(bucket) == []
    assert aws.messages() == []
    assert aws.idempotency_items() == []
