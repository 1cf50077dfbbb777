"""`cdk bootstrap`, `cdk deploy --all`, the ALS pipeline, `cdk destroy --all` against moto on 127.0.0.1.

It runs once per cluster mode, each with a moto server of its own: ``transient`` (the default, in the
public network mode: the upload handler calls RunJobFlow) and ``standing`` (synthesised with
``-c cluster_mode=standing -c network_mode=isolated``: the compute stack declares an ``AWS::EMR::Cluster``, a Spot
task fleet, interface endpoints and the workstation's wheelhouse asset, the handler calls AddJobFlowSteps on it, and
`cdk destroy` must terminate it). The test id says the mode and what ran: ``<mode>-full-pipeline[...]`` when
the app has the automation stack (the upload handler), else ``<mode>-storage-only-no-automation-stack[...]``,
which deploys, checks and destroys every stack but cannot drive the pipeline (there is no handler to drive).
The bracket lists the stacks deployed.

What the emulator cannot do, the test does in its place, each time visibly (see docs/offline-lifecycle.md):
it delivers the S3, EventBridge and schedule events to the handlers, runs the Spark job with local Spark instead
of EMR, runs the spend guard with its clock moved on so that it ends the transient cluster (which EMR would end
after its step; the standing cluster is left to `cdk destroy`), empties the buckets before `cdk destroy` as the
auto-delete-objects custom resource would, and enforces IAM: every AWS call the handlers made is evaluated
against the deployed roles' policies and must be allowed, and a written list of requests must be denied
(iam_support.py). Resource types the emulator does not create are listed and asserted from the templates
instead (test_unmodelled.py).
"""

from __future__ import annotations

import io
import json
import runpy
import sys
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import emulator_server as emulator_script
import handler_support as handlers
import iam_support
import lifecycle_support as lifecycle
import network_support
import pytest
import unmodelled_support as unmodelled
from deployment_support import (
    deployed_function,
    deployed_settings,
    events_fn_arn,
    find_step,
    name_prefix,
    option,
    physical_ids_of,
    rule_targets_for,
    s3_parts,
    s3_property_gaps,
    sample_ratings,
    stack_with,
)

from lab_contract.environments import SpendGuardEnvironment
from spark_jobs.local.spark_submit import package_sources

ROOT = lifecycle.ROOT
SPEND_GUARD_ENV = SpendGuardEnvironment.variable_names()


class Report:
    """What happened, printed at the end (pytest -rA or -s shows it) and kept in the test's tmp dir."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = {}

    def __setitem__(self, key: str, value: Any) -> None:
        self.data[key] = value
        self.path.write_text(json.dumps(self.data, indent=2, sort_keys=True, default=str))


# ------------------------------------------------------------------------------------------- the test
def test_lifecycle(
    cluster_mode: str,
    scope: str,
    deployment: lifecycle.Assembly,
    emulator: lifecycle.Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    step: Callable[[str], None],
    spark: Any,
) -> None:
    assembly = deployment  # the app synthesised with this cluster mode's context
    report = Report(tmp_path / "lifecycle-report.json")
    report["cluster_mode"] = cluster_mode
    report["scope"] = scope
    report["stacks"] = assembly.stack_names()
    env = lifecycle.offline_env(emulator.endpoint, tmp_path)
    clients = lifecycle.Clients(emulator.endpoint)

    # 1. bootstrap + deploy with the real CLI -------------------------------------------------------------
    step(f"cdk bootstrap, then cdk deploy --all ({', '.join(assembly.stack_names())}) to moto at {emulator.endpoint}")
    lifecycle.run_cdk(
        ["bootstrap", f"aws://{lifecycle.ACCOUNT}/{lifecycle.REGION}", "--app", str(assembly.outdir)], env
    )
    assert (
        clients.cloudformation.describe_stacks(StackName="CDKToolkit")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    )
    lifecycle.run_cdk(["deploy", "--all", "--app", str(assembly.outdir), "--require-approval", "never"], env)

    step("deployed; checking each resource through its service's API")
    deployed = {stack.stack_name: lifecycle.describe_deployed(clients, stack) for stack in assembly.stacks}
    for name, stack in deployed.items():
        assert stack.status == "CREATE_COMPLETE", f"{name}: {stack.status}"
        missing = {lid: stack.stack.resources[lid]["Type"] for lid, ok in stack.verified.items() if ok is False}
        assert not missing, f"{name}: CloudFormation lists these but the service does not have them: {missing}"
    standing_clusters = physical_ids_of(deployed, "AWS::EMR::Cluster")
    if cluster_mode == "standing":
        # the standing cluster is declared in the compute stack, alive and idle, as the template describes it
        assert len(standing_clusters) == 1, standing_clusters
        standing = clients.emr.describe_cluster(ClusterId=next(iter(standing_clusters)))["Cluster"]
        assert standing["Status"]["State"] == "WAITING", standing["Status"]
        assert standing["Name"].endswith("-standing") and not standing["AutoTerminate"], standing
        assert standing["SecurityConfiguration"] in physical_ids_of(deployed, "AWS::EMR::SecurityConfiguration"), (
            standing
        )
        assert "AWS::EMR::InstanceFleetConfig" in assembly.types(), "standing variant without its Spot task fleet"
        report["standing_cluster"] = standing["Id"]
    else:
        assert not standing_clusters and "AWS::EMR::Cluster" not in assembly.types(), standing_clusters
    vpc_ids = sorted(physical_ids_of(deployed, "AWS::EC2::VPC"))
    report["network"] = network_support.check_network(
        clients, assembly, vpc_ids, network_support.network_mode_of(cluster_mode)
    )
    report["created_and_verified_by_service_api"] = {
        name: sorted({s.stack.resources[lid]["Type"] for lid, ok in s.verified.items() if ok})
        for name, s in deployed.items()
    }

    # 2. what the emulator skipped, and that each skipped type is asserted from the template instead -------
    not_created = {
        resource_type
        for stack in deployed.values()
        for lid, resource_type in stack.not_created.items()
        if "Condition" not in stack.stack.resources[lid]
    }
    custom = {t for stack in deployed.values() for t in stack.custom_resources.values()}
    unmodelled_by_moto = assembly.types() - lifecycle.moto_cloudformation_types() - custom
    adapted = unmodelled_by_moto & set(emulator_script.ADAPTED_TYPES)
    assert not_created <= emulator.unsupported_types_logged(), (not_created, emulator.unsupported_types_logged())
    assert not_created == unmodelled_by_moto - adapted
    property_gaps = s3_property_gaps(clients, deployed)
    report["not_created_by_emulator"] = sorted(not_created)
    report["adapted_by_test_emulator_shim"] = sorted(adapted)
    report["custom_resources_never_run"] = sorted(custom)
    report["s3_bucket_properties_ignored_by_emulator"] = sorted(property_gaps)
    uncovered = (unmodelled_by_moto | custom) - set(unmodelled.TYPE_ASSERTIONS)
    assert not uncovered, (
        f"the emulator does not model {sorted(uncovered)}: add template assertions to unmodelled_support.py"
    )
    uncovered_properties = property_gaps - set(unmodelled.BUCKET_PROPERTY_ASSERTIONS)
    assert not uncovered_properties, (
        f"the emulator ignores bucket properties {sorted(uncovered_properties)}: assert them"
    )

    # 3. the ratings upload, and with the automation stack the whole pipeline ----------------------------
    storage = stack_with(deployed, "BucketsRatings", "AWS::S3::Bucket")
    ratings_bucket = storage.physical_id("BucketsRatings", "AWS::S3::Bucket")
    results_bucket = storage.physical_id("BucketsResults", "AWS::S3::Bucket")
    if scope == "full-pipeline":
        step("pipeline: upload -> submit_job -> EMR request -> the step on local Spark -> emr_events -> outcome")
        recorder = handlers.CallRecorder()
        run_pipeline(
            cluster_mode,
            assembly,
            deployed,
            clients,
            emulator,
            env,
            ratings_bucket,
            results_bucket,
            tmp_path,
            monkeypatch,
            report,
            recorder,
            spark,
        )
        tags = deployed_settings(cluster_mode).tags
        report["least_privilege"] = iam_support.check_least_privilege(recorder.calls, deployed, clients, tags)
    else:
        assert not lifecycle.has_automation(assembly)
        from lab_contract.layout import RATINGS_PREFIX

        key = f"{RATINGS_PREFIX}lifecycle/u.data"
        body = sample_ratings()
        clients.s3.put_object(Bucket=ratings_bucket, Key=key, Body=body)
        assert clients.s3.get_object(Bucket=ratings_bucket, Key=key)["Body"].read() == body
        report["pipeline"] = "not run: the app has no automation stack (no upload handler to drive)"

    # 4. destroy, then nothing of the project may remain --------------------------------------------------
    emptied = {}
    for stack in deployed.values():
        for resource in stack.stack.resources.values():
            if resource["Type"] == "Custom::S3AutoDeleteObjects":
                bucket_ref = resource["Properties"]["BucketName"]["Ref"]
                bucket = stack.physical_ids[bucket_ref]
                emptied[bucket] = lifecycle.empty_bucket(clients, bucket)
    report["emptied_for_auto_delete_objects"] = emptied
    vpcs = [
        pid
        for s in deployed.values()
        for lid, pid in s.physical_ids.items()
        if s.stack.resources[lid]["Type"] == "AWS::EC2::VPC"
    ]
    # A transient cluster still running at destroy (a job's, which no template owns) in the stage's subnets with the
    # stage's EMR security groups, the Instances keys submit_job's job flow uses: make destroy must end it, and wait,
    # before it deletes the stacks that hold them (tools/deployment.py). (moto reads Ec2SubnetId but not
    # Ec2SubnetIds, emulator_server.py: with the singular key it would create EMR's default service-access group.)
    network = stack_with(deployed, "NetworkEmrPrimary", "AWS::EC2::SecurityGroup")
    running = clients.emr.run_job_flow(
        Name=f"{name_prefix()}-still-running",
        ReleaseLabel="emr-7.5.0",
        Instances={
            "InstanceCount": 1,
            "MasterInstanceType": "m7g.xlarge",
            "KeepJobFlowAliveWhenNoSteps": True,
            "Ec2SubnetIds": sorted(physical_ids_of(deployed, "AWS::EC2::Subnet")),
            "EmrManagedMasterSecurityGroup": network.physical_id("NetworkEmrPrimary", "AWS::EC2::SecurityGroup"),
            "EmrManagedSlaveSecurityGroup": network.physical_id("NetworkEmrCore", "AWS::EC2::SecurityGroup"),
        },
        JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
        Tags=[{"Key": key, "Value": value} for key, value in deployed_settings(cluster_mode).tags.items()],
    )["JobFlowId"]
    assert clients.emr.describe_cluster(ClusterId=running)["Cluster"]["Status"]["State"] == "WAITING"
    step("make destroy: end the stage's clusters, lift termination protection, then cdk destroy --all")
    try:
        destroyed = destroy_as_make_does(cluster_mode, clients, assembly, env)
    except AssertionError as failure:
        network = lifecycle.project_network(clients, vpcs)
        interfaces = clients.ec2.describe_network_interfaces(Filters=[{"Name": "vpc-id", "Values": vpcs}])[
            "NetworkInterfaces"
        ]
        tables = clients.ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": vpcs}])["RouteTables"]
        network["route table details"] = [json.dumps(t, default=str)[:1500] for t in tables]
        raise AssertionError(
            f"{failure}\nstill in the VPCs: {network}\nnetwork interfaces: "
            + json.dumps(
                [
                    (
                        i["NetworkInterfaceId"],
                        i.get("Description"),
                        i.get("InterfaceType"),
                        i.get("Attachment", {}).get("InstanceId"),
                    )
                    for i in interfaces
                ]
            )
        ) from None

    assert destroyed == 0
    assert clients.emr.describe_cluster(ClusterId=running)["Cluster"]["Status"]["State"] == "TERMINATED"
    report["running_cluster_ended_by_destroy"] = running
    step("destroyed; checking that nothing of the project is left")
    kept: dict[str, str] = {}
    leaked: dict[str, str] = {}
    for name, stack in deployed.items():
        statuses = [
            s["StackStatus"]
            for s in clients.cloudformation.describe_stacks().get("Stacks", [])
            if s["StackName"] == name
        ]
        assert statuses in ([], ["DELETE_COMPLETE"]), f"{name}: {statuses}"
        retained = lifecycle.retained(stack.stack)
        for lid, pid in stack.physical_ids.items():
            resource_type = stack.stack.resources[lid]["Type"]
            still_there = lifecycle.exists(clients, resource_type, pid)
            if lid in retained:
                kept[f"{name}/{lid}"] = f"{resource_type} {pid} (DeletionPolicy Retain; exists={still_there})"
            elif still_there:
                leaked[f"{name}/{lid}"] = f"{resource_type} {pid}"
    assert not leaked, f"left behind after cdk destroy: {leaked}"
    for cluster_id in standing_clusters:  # terminated by make destroy, not by the test
        state = clients.emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"]
        assert state == "TERMINATED", f"standing cluster {cluster_id} after make destroy: {state}"
        report["standing_cluster_after_destroy"] = state
    retained_names = {
        pid for s in deployed.values() for lid, pid in s.physical_ids.items() if lid in lifecycle.retained(s.stack)
    }
    markers = [*assembly.stack_names(), name_prefix()]
    leftovers = {
        service: [n for n in names if not any(pid and pid in n for pid in retained_names)]
        for service, names in lifecycle.project_leftovers(clients, markers).items()
    }
    # Lambda itself creates /aws/lambda/<name> on first invocation for a function with no LoggingConfig (here the
    # CDK-provided custom-resource handlers, which the emulator tried to run); CloudFormation never deletes it, in
    # AWS as here. Reported as a finding; any other log group left behind fails the test.
    runtime_log_groups = {
        f"/aws/lambda/{pid}"
        for s in deployed.values()
        for lid, pid in s.physical_ids.items()
        if s.stack.resources[lid]["Type"] == "AWS::Lambda::Function"
        and "LoggingConfig" not in s.stack.resources[lid]["Properties"]
    }
    left_by_lambda = sorted(set(leftovers.get("log groups", [])) & runtime_log_groups)
    leftovers["log groups"] = [g for g in leftovers.get("log groups", []) if g not in runtime_log_groups]
    leftovers = {service: names for service, names in leftovers.items() if names}
    report["log_groups_created_by_lambda_outside_cloudformation"] = left_by_lambda
    leftovers.update(lifecycle.project_network(clients, vpcs))
    assert not leftovers, f"project resources left in the emulator after cdk destroy: {leftovers}"
    report["kept_by_deletion_policy"] = kept
    report["remaining_project_resources"] = 0
    step("passed: deployed, ran and destroyed cleanly")
    print(json.dumps(report.data, indent=2, sort_keys=True, default=str))


# ------------------------------------------------------------------------------------------- pipeline
def run_pipeline(
    cluster_mode: str,
    assembly: lifecycle.Assembly,
    deployed: dict[str, lifecycle.DeployedStack],
    clients: lifecycle.Clients,
    emulator: lifecycle.Emulator,
    env: dict[str, str],
    ratings_bucket: str,
    results_bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    report: Report,
    recorder: handlers.CallRecorder,
    spark: Any,
) -> None:
    submit_fn = deployed_function(assembly, deployed, lifecycle.SUBMIT_JOB_ENV)
    events_fn = deployed_function(assembly, deployed, lifecycle.EMR_EVENTS_ENV)
    submit_env = clients.lambda_.get_function_configuration(FunctionName=submit_fn)["Environment"]["Variables"]
    events_env = clients.lambda_.get_function_configuration(FunctionName=events_fn)["Environment"]["Variables"]
    # The emulator resolved the template's references: the functions point at this deployment's resources.
    assert submit_env["INPUT_BUCKET"] == ratings_bucket
    assert urlparse(submit_env["RESULTS_URI"]).netloc == results_bucket
    assert events_env["RESULTS_BUCKET"] == results_bucket
    assert (
        clients.dynamodb.describe_table(TableName=submit_env["IDEMPOTENCY_TABLE"])["Table"]["TableStatus"] == "ACTIVE"
    )
    assert clients.sns.get_topic_attributes(TopicArn=events_env["TOPIC_ARN"])

    # The bucket notification is a Lambda-backed custom resource the emulator never ran: the bucket has none, so the
    # test delivers the S3 ObjectCreated notification itself (and unmodelled_support asserts the configuration).
    notifications = clients.s3.get_bucket_notification_configuration(Bucket=ratings_bucket)
    assert not notifications.get("LambdaFunctionConfigurations"), (
        "the emulator ran the notifications resource after all"
    )
    # A name with what Hadoop's Path parser and glob misread (a timestamp's ':', '[1]') and a space and Unicode, as
    # people name uploads: upload -> submit_job -> the step's --ratings -> the job must carry it as it is.
    key = f"{submit_env['RATINGS_PREFIX']}lifecycle/ratings 2026-11-25T10:00:00Z [1] ünï/u.data"
    clients.s3.put_object(Bucket=ratings_bucket, Key=key, Body=sample_ratings())
    head = clients.s3.head_object(Bucket=ratings_bucket, Key=key)
    assert submit_env["CLUSTER_MODE"] == cluster_mode, submit_env["CLUSTER_MODE"]
    standing_id = submit_env.get("STANDING_CLUSTER_ID", "")
    if cluster_mode == "standing":
        assert standing_id == stack_with(deployed, "Spark", "AWS::EMR::Cluster").physical_id(
            "Spark", "AWS::EMR::Cluster"
        )
        assert clients.emr.list_steps(ClusterId=standing_id)["Steps"] == []
    clusters_before = {c["Id"] for c in clients.emr.list_clusters()["Clusters"]}
    upload = handlers.s3_event(ratings_bucket, key, head)
    summary = handlers.invoke(monkeypatch, emulator, "submit_job", submit_fn, submit_env, upload, recorder=recorder)
    assert summary["rejected"] == [] and len(summary["submitted"]) == 1, summary
    run_id = summary["submitted"][0]
    step_name = f"{submit_env['CLUSTER_NAME_PREFIX']}-als-{run_id}"

    # the EMR request the handler made, as the emulator recorded it
    cluster, step = find_step(clients, step_name)
    clusters_after = {c["Id"] for c in clients.emr.list_clusters()["Clusters"]}
    if cluster_mode == "standing":
        # AddJobFlowSteps on the deployed cluster: exactly one step there, no new cluster (no RunJobFlow)
        assert clusters_after == clusters_before, clusters_after - clusters_before
        steps = clients.emr.list_steps(ClusterId=standing_id)["Steps"]
        assert [s["Id"] for s in steps] == [step["Id"]] and cluster["Id"] == standing_id, (steps, cluster["Id"])
        assert step["ActionOnFailure"] == "CONTINUE", step
    else:
        # RunJobFlow: one new cluster, named for the run, whose only step is this one
        assert clusters_after - clusters_before == {cluster["Id"]}, clusters_after - clusters_before
        assert cluster["Name"] == f"{submit_env['CLUSTER_NAME_PREFIX']}-{run_id}", cluster["Name"]
        assert len(clients.emr.list_steps(ClusterId=cluster["Id"])["Steps"]) == 1
        assert step["ActionOnFailure"] == "TERMINATE_CLUSTER", step
    args = step["Config"]["Args"]
    assert option(args, "--ratings") == f"s3://{ratings_bucket}/{key}"
    assert option(args, "--format") == "udata"  # submit_job's format for a ".data" key
    assert option(args, "--output") == submit_env["RESULTS_URI"].rstrip("/")
    assert option(args, "--run-id") == run_id
    script_uri = next(a for a in args if a.startswith("s3://") and a.endswith(".py"))
    script_bucket, script_key = s3_parts(script_uri)
    script = clients.s3.get_object(Bucket=script_bucket, Key=script_key)["Body"].read()
    assert script == (ROOT / "spark_jobs" / "als_job.py").read_bytes(), f"{script_uri} is not spark_jobs/als_job.py"
    package_uri = option(args, "--py-files")
    assert args.index(package_uri) < args.index(script_uri), "--py-files must come before the entry script"
    package_bucket, package_key = s3_parts(package_uri)
    package = clients.s3.get_object(Bucket=package_bucket, Key=package_key)["Body"].read()
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        shipped = {name: archive.read(name) for name in archive.namelist() if not name.endswith("/")}
    expected = {name: path.read_bytes() for name, path in package_sources()}
    assert shipped == expected, f"{package_uri} is not spark_jobs/als/: {sorted(shipped)} vs {sorted(expected)}"
    project_roles = physical_ids_of(deployed, "AWS::IAM::Role")
    project_profiles = physical_ids_of(deployed, "AWS::IAM::InstanceProfile")
    service_role = cluster["ServiceRole"].rsplit("/", 1)[-1]
    instance_profile = cluster["Ec2InstanceAttributes"]["IamInstanceProfile"].rsplit("/", 1)[-1]
    assert service_role in {r.rsplit("/", 1)[-1] for r in project_roles}, (service_role, project_roles)
    assert instance_profile in {p.rsplit("/", 1)[-1] for p in project_profiles}, (instance_profile, project_profiles)
    clients.iam.get_role(RoleName=service_role)
    clients.iam.get_instance_profile(InstanceProfileName=instance_profile)
    security_configuration = cluster.get("SecurityConfiguration")
    assert security_configuration in physical_ids_of(deployed, "AWS::EMR::SecurityConfiguration"), (
        security_configuration
    )
    clients.emr.describe_security_configuration(Name=security_configuration)

    # the Spark step, run by local Spark (run_step): every s3:// argument maps to a local mirror
    # (work/s3/<bucket>/<key>), the input object is downloaded into it from the emulator, the run's output is
    # uploaded from it afterwards
    work = tmp_path / "spark"
    mirror = work / "s3"

    def local(uri: str) -> Path:
        bucket, key = s3_parts(uri)
        return mirror / bucket / key

    local_script = work / "als_job.py"
    local_script.parent.mkdir(parents=True)
    local_script.write_bytes(script)
    local_package = work / "als.zip"
    local_package.write_bytes(package)
    local_ratings = local(option(args, "--ratings"))
    local_ratings.parent.mkdir(parents=True, exist_ok=True)
    local_ratings.write_bytes(clients.s3.get_object(Bucket=ratings_bucket, Key=key)["Body"].read())
    job_args = [str(local(a)) if a.startswith("s3://") else a for a in args[args.index(script_uri) + 1 :]]
    for _index, arg in enumerate(args[args.index(script_uri) + 1 :]):
        if arg.startswith("s3://") and arg.endswith("/"):
            local(arg).mkdir(parents=True, exist_ok=True)
    code, imported_from = run_step(spark, local_script, local_package, job_args)
    assert code == 0, f"the step {job_args} exited {code}"
    assert imported_from == local_package, f"the step ran the package from {imported_from}, not the deployed zip"
    run_dir = local(submit_env["RESULTS_URI"].rstrip("/") + "/") / run_id
    assert (run_dir / "_SUCCESS").exists() and (run_dir / "metrics.json").exists()
    metrics = json.loads((run_dir / "metrics.json").read_text())

    # its results, written where EMR would have written them
    results_uri_bucket, results_prefix = s3_parts(submit_env["RESULTS_URI"].rstrip("/") + "/")
    assert results_uri_bucket == results_bucket
    uploaded = 0
    for path in sorted(run_dir.rglob("*")):
        if path.is_file() and not path.name.endswith(".crc"):
            clients.s3.upload_file(
                str(path), results_bucket, f"{results_prefix}{run_id}/{path.relative_to(run_dir).as_posix()}"
            )
            uploaded += 1

    # the step's EventBridge event: matched by the deployed rule, delivered to the outcome handler
    event = handlers.emr_step_event(cluster["Id"], step["Id"], step_name, step["ActionOnFailure"])
    assert rule_targets_for(clients, event) >= {events_fn_arn(clients, events_fn)}, (
        "no deployed rule sends this event to the handler"
    )
    outcome = handlers.invoke(monkeypatch, emulator, "emr_events", events_fn, events_env, event, recorder=recorder)
    assert outcome["status"] == "succeeded", outcome
    outcome_bucket, outcome_key = s3_parts(outcome["recorded"])
    assert outcome_bucket == results_bucket and outcome_key.startswith(events_env["OUTCOMES_PREFIX"])
    record = json.loads(clients.s3.get_object(Bucket=outcome_bucket, Key=outcome_key)["Body"].read())
    assert record["run_id"] == run_id and record["status"] == "succeeded"
    if cluster_mode == "transient":  # sized by the upload (a few hundred KB): a single node, as its tags say
        assert record["cluster_shape"] == "primary:1xm7g.xlarge core:0", record
        assert record["input_bytes"] == head["ContentLength"], record
    metrics_bucket, metrics_key = s3_parts(record["metrics_uri"])
    stored_metrics = json.loads(clients.s3.get_object(Bucket=metrics_bucket, Key=metrics_key)["Body"].read())
    assert stored_metrics == metrics

    # The spend guard, as its schedule runs it. A transient cluster ends itself after its last step; the
    # emulator's stays up, so the guard runs 9 hours on, on a Sunday (over age, out of working hours): it ends
    # the cluster and stops the workstation. The standing cluster, young, must stay for `cdk destroy` to end.
    guard_fn = deployed_function(assembly, deployed, SPEND_GUARD_ENV)
    guard_env = clients.lambda_.get_function_configuration(FunctionName=guard_fn)["Environment"]["Variables"]
    later = datetime.now(UTC) + timedelta(hours=9)
    sunday = later + timedelta(days=(6 - later.weekday()) % 7)
    clock = (lambda: sunday) if cluster_mode == "transient" else None
    schedule = handlers.scheduled_event()
    guarded = handlers.invoke(
        monkeypatch, emulator, "spend_guard", guard_fn, guard_env, schedule, recorder=recorder, clock=clock
    )
    assert guarded["errors"] == [], guarded
    if cluster_mode == "transient":
        assert guarded["terminated"] == [{"cluster_id": cluster["Id"], "reason": "over_age"}], guarded
        assert guarded["workstation"] == "stopped", guarded
        assert clients.emr.describe_cluster(ClusterId=cluster["Id"])["Cluster"]["Status"]["State"] == "TERMINATED"
    else:
        assert guarded["terminated"] == [] and standing_id in guarded["kept"], guarded
        state = clients.emr.describe_cluster(ClusterId=standing_id)["Cluster"]["Status"]["State"]
        assert not state.startswith("TERMINAT"), state
    report["spend_guard"] = guarded
    report["pipeline"] = {
        "run_id": run_id,
        "cluster": cluster["Id"],
        "step_action_on_failure": step["ActionOnFailure"],
        "step_args": args,
        "results_objects": uploaded,
        "rmse": metrics.get("rmse"),
        "cluster_shape": record.get("cluster_shape"),
        "outcome": outcome["recorded"],
    }


def run_step(spark: Any, script: Path, package: Path, args: list[str]) -> tuple[int, Path]:
    """The EMR step (``spark-submit --py-files <package> <script> <args>``) in the tests' warm Spark session
    instead of a new JVM (a cold JVM costs ~30 s of the step's ~40): the deployed script runs as ``__main__``
    with the deployed zip first on sys.path and no ``als`` folder beside it, so the job is the package in the
    zip; adaptive execution is on, as Spark's defaults and EMR have it. spark-submit itself, with the shipped
    files and a ratings name with every character an upload may hold, is run by tests/spark/test_run_sample.py.
    Returns the exit code and the file ``als`` was imported from."""
    from spark_jobs.als.spark_helpers import session_conf

    saved_path, saved_argv = list(sys.path), list(sys.argv)
    sys.path.insert(0, str(package))
    sys.argv = [str(script), *args]
    imported_from = Path()
    try:
        with session_conf(spark, {"spark.sql.adaptive.enabled": "true"}):
            runpy.run_path(str(script), run_name="__main__")
        code: int = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    finally:
        sys.path[:], sys.argv[:] = saved_path, saved_argv
        loaded = sys.modules.get("als")
        imported_from = Path(getattr(loaded, "__file__", "") or "").parent.parent
        for name in [name for name in sys.modules if name == "als" or name.startswith("als.")]:
            del sys.modules[name]  # the next step imports its own deployed zip
    assert not spark.sparkContext._jsc.sc().isStopped(), "the step stopped the tests' Spark session"
    return code, imported_from


class EmulatorSession:
    """What tools.deployment asks of a boto3 session, answered by the emulator's clients."""

    def __init__(self, clients: lifecycle.Clients) -> None:
        self.clients = clients

    def client(self, service: str) -> Any:
        return getattr(self.clients, service)


def destroy_as_make_does(
    cluster_mode: str, clients: lifecycle.Clients, assembly: lifecycle.Assembly, env: dict[str, str]
) -> int:
    """`make destroy CONFIRM=dev` (tools.deployment.destroy) against the emulator, its cdk destroy on the assembly."""
    from tools import deployment

    def cdk(arguments: list[str]) -> int:
        command = [word for word in arguments if word != "--all"]
        return lifecycle.run_cdk([*command, "--all", "--app", str(assembly.outdir)], env).returncode

    context = dict(lifecycle.CLUSTER_MODE_CONTEXT[cluster_mode])
    return deployment.destroy(
        context,
        confirmation=deployed_settings(cluster_mode).stage,
        ask=None,
        session=EmulatorSession(clients),
        cdk=cdk,
        poll_seconds=0.5,
    )
