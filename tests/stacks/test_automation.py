"""Automation stack: functions, triggers, notifications and permissions."""

from __future__ import annotations

import json

from lab_contract.layout import RATINGS_SUFFIXES


def resources(template: dict, kind: str) -> dict[str, dict]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def functions(app) -> dict[str, dict]:
    return {
        k: r for k, r in resources(app.template("automation"), "AWS::Lambda::Function").items() if k.startswith("Jobs")
    }


def test_three_functions_latest_runtime_with_timeouts_memory_and_powertools(lab) -> None:
    found = functions(lab)
    assert len(found) == 3
    for name, function in found.items():
        props = function["Properties"]
        assert props["Runtime"] == "python3.14", name
        assert props["Handler"] == "handler.lambda_handler"
        assert props["MemorySize"] == 256 and 30 <= props["Timeout"] <= 120
        assert "AWSLambdaPowertoolsPythonV3-python314-x86_64" in json.dumps(props["Layers"])
        assert props["RecursiveLoop"] == "Terminate"
        assert "ReservedConcurrentExecutions" not in props
        # Its own explicit log group: JobsSubmitJob... logs to JobsSubmitJobLogs...
        assert props["LoggingConfig"]["LogGroup"]["Ref"].startswith(name[:-8] + "Logs")


def test_reserved_concurrency_is_a_setting(synth) -> None:
    for function in functions(synth(lambda_reserved_concurrency=5)).values():
        assert function["Properties"]["ReservedConcurrentExecutions"] == 5


def test_explicit_log_groups_with_retention_removed_on_destroy(lab) -> None:
    groups = {
        k: g for k, g in resources(lab.template("automation"), "AWS::Logs::LogGroup").items() if k.startswith("Jobs")
    }
    assert len(groups) == 3
    for group in groups.values():
        assert group["Properties"]["RetentionInDays"] == 30
        assert group["DeletionPolicy"] == "Delete"


def test_async_failures_go_to_an_encrypted_queue(lab) -> None:
    template = lab.template("automation")
    configs = resources(template, "AWS::Lambda::EventInvokeConfig")
    assert len(configs) == 3
    queue_id = next(iter(resources(template, "AWS::SQS::Queue")))
    for config in configs.values():
        assert config["Properties"]["MaximumRetryAttempts"] == 2
        assert queue_id in json.dumps(config["Properties"]["DestinationConfig"]["OnFailure"])
    assert next(iter(resources(template, "AWS::SQS::Queue").values()))["Properties"]["SqsManagedSseEnabled"] is True


def test_upload_notifications_one_per_suffix_under_the_ratings_prefix(lab) -> None:
    notifications = next(iter(resources(lab.template("automation"), "Custom::S3BucketNotifications").values()))
    configs = notifications["Properties"]["NotificationConfiguration"]["LambdaFunctionConfigurations"]
    filters = sorted(tuple(sorted((r["Name"], r["Value"]) for r in c["Filter"]["Key"]["FilterRules"])) for c in configs)
    assert filters == sorted((("prefix", "ratings/"), ("suffix", s)) for s in RATINGS_SUFFIXES)
    assert all(c["Events"] == ["s3:ObjectCreated:*"] for c in configs)
    assert "ml-lab-dev-ratings-bucket-arn" in json.dumps(notifications["Properties"]["BucketName"])


def test_emr_rule_matches_this_projects_step_and_cluster_events(lab) -> None:
    rules = resources(lab.template("automation"), "AWS::Events::Rule")
    emr = next(r for r in rules.values() if "EventPattern" in r["Properties"])
    assert emr["Properties"]["EventPattern"] == {
        "source": ["aws.emr"],
        "detail-type": ["EMR Step Status Change", "EMR Cluster State Change"],
        "detail": {"name": [{"prefix": "ml-lab-dev-"}]},
    }
    schedule = next(r for r in rules.values() if "ScheduleExpression" in r["Properties"])
    assert schedule["Properties"]["ScheduleExpression"] == "rate(15 minutes)"
    for rule in (emr, schedule):
        target = rule["Properties"]["Targets"][0]
        assert target["RetryPolicy"]["MaximumRetryAttempts"] == 2 and "DeadLetterConfig" in target


def test_submit_function_gets_the_shared_cluster_definition(lab) -> None:
    submit = next(f for k, f in functions(lab).items() if k.startswith("JobsSubmitJob"))
    env = submit["Properties"]["Environment"]["Variables"]
    assert env["CLUSTER_MODE"] == "transient" and env["RATINGS_PREFIX"] == "ratings/"
    template_json = json.dumps(env["JOB_FLOW_TEMPLATE"])
    for field in (
        "SecurityConfiguration",
        "JobFlowRole",
        "ServiceRole",
        "LogUri",
        "Ec2SubnetIds",
    ):
        assert field in template_json
    assert "TERMINATE_CLUSTER" in json.dumps(env["STEP_TEMPLATE"])


def role_statements(app, prefix: str) -> list[dict]:
    found = []
    for name, policy in resources(app.template("automation"), "AWS::IAM::Policy").items():
        if name.startswith(prefix):
            found += policy["Properties"]["PolicyDocument"]["Statement"]
    return found


def test_submit_may_only_run_tagged_clusters_and_pass_the_two_emr_roles(lab) -> None:
    statements = role_statements(lab, "JobsSubmitJob")
    run = next(s for s in statements if "elasticmapreduce:RunJobFlow" in s["Action"])
    assert run["Action"] == "elasticmapreduce:RunJobFlow"
    assert run["Condition"]["StringEquals"] == {"aws:RequestTag/project": "ml-lab", "aws:RequestTag/stage": "dev"}
    # Tagging (what EMR checks for RunJobFlow's tags): clusters of this account only, exactly the project's tags
    # (values too) and the two sizing tags submit_job adds (any value).
    [add_tags] = [s for s in statements if "elasticmapreduce:AddTags" in json.dumps(s["Action"])]
    assert add_tags["Action"] == "elasticmapreduce:AddTags" and add_tags["Resource"] != "*"
    assert json.dumps(add_tags["Resource"]).endswith(':cluster/*"]]}')
    assert add_tags["Condition"] == {
        "StringEquals": {
            "aws:RequestTag/project": "ml-lab",
            "aws:RequestTag/stage": "dev",
            "aws:RequestTag/owner": "data-science",
            "aws:RequestTag/cost-centre": "ml-lab",
        },
        "ForAllValues:StringEquals": {
            "aws:TagKeys": ["project", "stage", "owner", "cost-centre", "cluster-shape", "input-bytes"]
        },
    }
    pass_role = next(s for s in statements if s["Action"] == "iam:PassRole")
    assert len(pass_role["Resource"]) == 2 and "*" not in json.dumps(pass_role["Resource"])
    assert not any("s3:" in json.dumps(s["Action"]) for s in statements), "submit must not touch S3"


def test_standing_mode_adds_steps_to_that_cluster_only(synth) -> None:
    app = synth(cluster_mode="standing")
    statements = role_statements(app, "JobsSubmitJob")
    assert not any("elasticmapreduce:RunJobFlow" in json.dumps(s["Action"]) for s in statements)
    add = next(s for s in statements if "elasticmapreduce:AddJobFlowSteps" in s["Action"])
    # Adding a step, and listing the steps to find one already added for a run: that cluster only.
    assert add["Action"] == ["elasticmapreduce:AddJobFlowSteps", "elasticmapreduce:ListSteps"]
    assert "cluster/" in json.dumps(add["Resource"]) and "*" not in json.dumps(add["Resource"])
    assert not any("elasticmapreduce:ListClusters" in json.dumps(s["Action"]) for s in statements)


def test_spend_guard_terminates_only_tagged_clusters_and_stops_only_the_workstation(lab) -> None:
    statements = role_statements(lab, "JobsSpendGuard")
    terminate = next(s for s in statements if s["Action"] == "elasticmapreduce:TerminateJobFlows")
    assert terminate["Condition"]["StringEquals"] == {
        "aws:ResourceTag/project": "ml-lab",
        "aws:ResourceTag/stage": "dev",
    }
    stop = next(s for s in statements if s["Action"] == "ec2:StopInstances")
    assert "instance/" in json.dumps(stop["Resource"]) and stop["Resource"] != "*"


def test_emr_events_writes_only_outcomes_and_publishes_to_the_alerts_topic(lab) -> None:
    statements = role_statements(lab, "JobsEmrEvents")
    put = next(s for s in statements if s["Action"] == "s3:PutObject")
    assert json.dumps(put["Resource"]).endswith('"/outcomes/*"]]}')
    assert any(s["Action"] == "sns:Publish" for s in statements)


def test_idempotency_table_has_ttl_and_point_in_time_recovery(lab) -> None:
    table = next(iter(resources(lab.template("automation"), "AWS::DynamoDB::GlobalTable").values()))["Properties"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["Replicas"][0]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_the_spend_guard_loads_its_time_zone_from_its_asset_alone(lab, tmp_path) -> None:
    """issue 21, suspected item: the Python 3.14 runtime's pages do not promise a system time zone database, so the
    spend guard's asset carries the tzdata package; with no system database at all (PYTHONTZPATH empty) and only
    the asset on the path, the configured zone loads and the environment parses."""
    import subprocess
    import sys

    asset = next(lab.outdir.glob("**/lambda-sources/spend_guard"))
    assert (asset / "tzdata" / "zoneinfo" / "Europe" / "London").is_file()
    assert not any(lab.outdir.glob("**/lambda-sources/submit_job/tzdata"))
    check = (
        "import zoneinfo, sys; zoneinfo.reset_tzpath([]); "
        "assert zoneinfo.TZPATH == (); "
        "zone = zoneinfo.ZoneInfo('Europe/London'); "
        "assert 'tzdata' in sys.modules and sys.modules['tzdata'].__file__.startswith(sys.argv[1]); print(zone.key)"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, sys.argv[1]); {check}", str(asset)],
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONTZPATH": ""},
    )
    assert result.returncode == 0 and result.stdout.strip() == "Europe/London", result.stderr
