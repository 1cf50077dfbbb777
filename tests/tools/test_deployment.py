"""make configure / deploy / destroy / diff (tools/deployment.py): the settings file round trip, the warning for
alerts that reach nobody, and destroy (confirmation, the stage's clusters ended first, termination protection off,
then the stacks) against moto in-process, with moto's gaps filled as the emulator fills them
(tests/emulated_lifecycle/emulator_server.py: termination protection). The CDK CLI is replaced by a recorder; for
destroy the recorder deletes the stacks in reverse dependency order as `cdk destroy --all` does."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from tools import cdk_synth, deployment
from tools.context import settings_from

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "emulated_lifecycle"))
import emulator_server  # the emulator's moto extensions, importable without starting it

REGION = "eu-west-2"
EMAILS = ["-c", "budget_email=budget@example.com", "-c", "notification_email=alerts@example.com"]


@pytest.fixture
def settings_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "lab.settings.json"
    monkeypatch.setenv("LAB_SETTINGS_FILE", str(path))
    return path


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every CDK CLI call, preflight and wheelhouse step, in order, instead of running them."""
    calls: list[list[str]] = []

    def cdk(arguments: list[str]) -> int:
        calls.append(["cdk", *arguments])
        if arguments[0] == "destroy":
            cloudformation = boto3.client("cloudformation", region_name=REGION)
            prefix = settings_from({}).name_prefix
            for suffix in deployment.STACK_SUFFIXES:  # reverse dependency order, as cdk destroy --all
                cloudformation.delete_stack(StackName=f"{prefix}-{suffix}")
        return 0

    monkeypatch.setattr(deployment, "run_cdk", cdk)
    monkeypatch.setattr(deployment, "build_wheelhouse", lambda arguments: calls.append(["wheelhouse", *arguments]))
    monkeypatch.setattr(
        deployment, "cache_workstation_image", lambda arguments: calls.append(["workstation-image", *arguments])
    )
    monkeypatch.setattr("tools.preflight.preflight_or_fail", lambda settings: calls.append(["preflight"]))
    return calls


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        emulator_server._add_termination_protection(
            lambda owner, name, value: monkeypatch.setattr(owner, name, value, raising=False)
        )
        yield


def context_of(call: list[str]) -> dict[str, str]:
    return dict(call[i + 1].split("=", 1) for i, word in enumerate(call) if word == "-c")


def deploy_stage(stage: str, *, protected: bool) -> None:
    """The stage's three stacks, as a deployment leaves them."""
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    template = json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})
    for suffix in reversed(deployment.STACK_SUFFIXES):
        cloudformation.create_stack(
            StackName=f"ml-lab-{stage}-{suffix}", TemplateBody=template, EnableTerminationProtection=protected
        )


def start_cluster(stage: str, name: str | None = None) -> str:
    emr = boto3.client("emr", region_name=REGION)
    return emr.run_job_flow(
        Name=name or f"ml-lab-{stage}-job",
        ReleaseLabel="emr-7.5.0",
        Instances={"InstanceCount": 1, "MasterInstanceType": "m7g.xlarge", "KeepJobFlowAliveWhenNoSteps": True},
        JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
        Tags=[{"Key": "project", "Value": "ml-lab"}, {"Key": "stage", "Value": stage}],
    )["JobFlowId"]


def cluster_state(cluster_id: str) -> str:
    return boto3.client("emr", region_name=REGION).describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"]


def stack_names() -> set[str]:
    stacks = boto3.client("cloudformation", region_name=REGION).describe_stacks()["Stacks"]
    return {stack["StackName"] for stack in stacks if stack["StackStatus"] != "DELETE_COMPLETE"}


def test_deploy_saves_the_settings_and_a_plain_destroy_uses_them(settings_file, recorded, account, capsys) -> None:
    prod = ["-c", "stage=prod", *EMAILS]
    assert deployment.main(["deploy", *prod]) == 0
    saved = json.loads(settings_file.read_text())["context"]
    assert saved == {"budget_email": "budget@example.com", "notification_email": "alerts@example.com", "stage": "prod"}
    deploy_call = recorded[-1]
    # The image is resolved into cdk.context.json before the first deploy, so a later release never replaces the
    # workstation unasked (issue 21, defect 1).
    assert [step[0] for step in recorded] == ["preflight", "wheelhouse", "workstation-image", "cdk"]
    assert context_of(recorded[2]) == saved
    assert deploy_call[:5] == ["cdk", "deploy", "--all", "--require-approval", "broadening"]
    assert context_of(deploy_call) == saved
    assert "warning" not in capsys.readouterr().out

    deploy_stage("prod", protected=True)
    assert deployment.main(["destroy", "--confirm", "prod"]) == 0  # no -c at all
    destroy_call = recorded[-1]
    assert destroy_call[:4] == ["cdk", "destroy", "--all", "--force"]
    assert context_of(destroy_call) == saved
    assert stack_names() == set()


def test_every_command_reads_the_settings_and_a_command_line_key_overrides_it(settings_file, recorded) -> None:
    assert deployment.main(["configure", "-c", "stage=prod", *EMAILS]) == 0
    assert settings_from({}).stage == "prod"  # tools.lab, tools.preflight, tools.wheelhouse read it so
    assert settings_from({"stage": "dev"}).stage == "dev"
    assert json.loads(settings_file.read_text())["context"]["stage"] == "prod"  # a one-off override is not saved
    assert deployment.main(["deploy", "-c", "notification_email="]) == 0  # an empty value removes the key
    assert "notification_email" not in json.loads(settings_file.read_text())["context"]
    assert "notification_email" not in context_of(recorded[-1])


def test_synth_passes_the_settings_file_to_cdk_as_context(settings_file, monkeypatch, tmp_path) -> None:
    settings_file.write_text(json.dumps({"context": {"stage": "prod", "budget_email": "b@example.com"}}))
    commands = []

    class Finished:
        def __init__(self, command, **_):
            commands.append(command)
            self.stdout, self.returncode = iter(()), 1

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(cdk_synth.subprocess, "Popen", Finished)
    cdk_synth.synthesise(tmp_path / "out", ["budget_email=other@example.com"])
    assert context_of(commands[0]) == {"stage": "prod", "budget_email": "other@example.com"}


def test_invalid_settings_are_refused_in_one_line_and_the_file_is_left_as_it_was(
    settings_file, recorded, capsys
) -> None:
    assert deployment.main(["configure", *EMAILS]) == 0
    before = settings_file.read_text()
    assert deployment.main(["deploy", "-c", "stage=prod", "-c", "budget_email="]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "context key 'budget_email': required when 'stage' is 'prod'" in err
    assert settings_file.read_text() == before
    assert recorded == []


@pytest.mark.parametrize(
    ("context", "missing"),
    [
        ([], "no budget_email and no notification_email"),
        (["-c", "budget_email=b@example.com"], "no notification_email"),
        (["-c", "notification_email=a@example.com"], "no budget_email"),
    ],
)
def test_a_deployment_whose_alerts_reach_nobody_says_so(settings_file, recorded, capsys, context, missing) -> None:
    assert deployment.main(["deploy", *context]) == 0
    warnings = [line for line in capsys.readouterr().out.splitlines() if "warning" in line]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"deployment: warning: {missing}: the budget and alarms of ml-lab-dev alert nobody")


def test_with_both_emails_there_is_no_warning(settings_file, recorded, capsys) -> None:
    assert deployment.main(["deploy", *EMAILS]) == 0
    assert "warning" not in capsys.readouterr().out


def test_destroy_ends_the_stages_clusters_then_unprotects_then_deletes(settings_file, recorded, account, capsys):
    deployment.main(["configure", "-c", "stage=prod", *EMAILS])
    deploy_stage("prod", protected=True)
    deploy_stage("dev", protected=False)
    ours, theirs = start_cluster("prod"), start_cluster("dev")
    assert cluster_state(ours) == "WAITING"
    capsys.readouterr()

    assert deployment.main(["destroy", "--confirm", "prod"]) == 0

    assert cluster_state(ours) == "TERMINATED"
    assert cluster_state(theirs) == "WAITING"  # another stage's cluster is left alone
    assert stack_names() == {"ml-lab-dev-automation", "ml-lab-dev-compute", "ml-lab-dev-storage"}
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"deployment: ending 1 EMR cluster(s): {ours} TERMINATED (0 s)"
    assert out[1:] == [f"deployment: termination protection off: ml-lab-prod-{s}" for s in deployment.STACK_SUFFIXES]


def test_a_protected_stack_cannot_be_deleted_without_that_step(account) -> None:
    """The emulator holds the rule destroy works around: DeleteStack of a protected stack fails."""
    deploy_stage("prod", protected=True)
    with pytest.raises(Exception, match="cannot be deleted while TerminationProtection is enabled"):
        boto3.client("cloudformation", region_name=REGION).delete_stack(StackName="ml-lab-prod-automation")


@pytest.mark.parametrize(("confirmation", "said"), [(None, "needs a confirmation"), ("dev", "is not the stage")])
def test_destroy_without_the_stages_name_touches_nothing(
    settings_file, recorded, account, capsys, confirmation, said
) -> None:
    deployment.main(["configure", "-c", "stage=prod", *EMAILS])
    deploy_stage("prod", protected=True)
    cluster = start_cluster("prod")
    capsys.readouterr()
    argv = ["destroy"] + (["--confirm", confirmation] if confirmation else [])

    assert deployment.main(argv) == 1

    err = capsys.readouterr().err
    assert err.count("\n") == 1 and said in err, err
    assert cluster_state(cluster) == "WAITING"
    assert len(stack_names()) == 3
    assert not [call for call in recorded if call[0] == "cdk"]
    stacks = boto3.client("cloudformation", region_name=REGION).describe_stacks()["Stacks"]
    assert all(stack["EnableTerminationProtection"] for stack in stacks)


def test_diff_decides_on_credentials_by_boto3s_chain_not_the_aws_cli(
    settings_file, recorded, monkeypatch, tmp_path, capsys
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.setenv(name, str(tmp_path / "absent"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("PATH", str(tmp_path))  # no aws CLI either way
    assert deployment.main(["diff"]) == 0
    assert "no AWS credentials (boto3's credential chain found none)" in capsys.readouterr().out
    assert recorded == []
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    assert deployment.main(["diff"]) == 0
    assert recorded == [["cdk", "diff"]]


def test_destroy_answered_with_end_of_input_touches_nothing(settings_file, recorded, account, capsys) -> None:
    deploy_stage("dev", protected=False)

    def end_of_input(prompt: str) -> str:
        raise EOFError

    session = boto3.Session(region_name=REGION)
    with pytest.raises(deployment.UserError, match="needs a confirmation: run make destroy CONFIRM=dev"):
        deployment.destroy({}, confirmation=None, ask=end_of_input, session=session, cdk=recorded.append)
    assert len(stack_names()) == 3


STANDING = ["-c", "cluster_mode=standing", *EMAILS]


def start_standing_cluster(name: str, stage: str = "dev") -> str:
    emr = boto3.client("emr", region_name=REGION)
    cluster_id = start_cluster(stage)
    emr.terminate_job_flows(JobFlowIds=[cluster_id])  # another cluster of the stage, ended: never in the way
    return start_cluster(stage, name)


def test_restart_standing_saves_the_next_generation_then_deploys_with_it(
    settings_file, recorded, account, capsys
) -> None:
    """`make restart-standing`, after the standing cluster ended: generation + 1 in the settings file, then the same
    steps as make deploy with it, each time it is run; a plain deploy afterwards keeps the generation."""
    ended = start_standing_cluster("ml-lab-dev-standing")
    boto3.client("emr", region_name=REGION).terminate_job_flows(JobFlowIds=[ended])
    start_standing_cluster("ml-lab-prod-standing", stage="prod")  # another stage's, running: not this stage's
    assert deployment.main(["configure", *STANDING]) == 0
    assert deployment.main(["restart-standing"]) == 0
    saved = json.loads(settings_file.read_text())["context"]
    assert saved["standing_cluster_generation"] == "2" and saved["cluster_mode"] == "standing"
    assert [step[0] for step in recorded] == ["preflight", "wheelhouse", "workstation-image", "cdk"]
    assert recorded[-1][:5] == ["cdk", "deploy", "--all", "--require-approval", "broadening"]
    assert context_of(recorded[-1]) == saved
    assert "standing_cluster_generation 1 -> 2" in capsys.readouterr().out

    assert deployment.main(["restart-standing", "-c", "emr_core_instance_count=3"]) == 0
    saved = json.loads(settings_file.read_text())["context"]
    assert saved["standing_cluster_generation"] == "3" and saved["emr_core_instance_count"] == "3"
    assert context_of(recorded[-1]) == saved
    assert deployment.main(["deploy"]) == 0
    assert context_of(recorded[-1])["standing_cluster_generation"] == "3"


def test_restart_standing_from_a_command_line_generation_adds_one_to_it(settings_file, recorded, account) -> None:
    assert deployment.main(["restart-standing", *STANDING, "-c", "standing_cluster_generation=7"]) == 0
    assert json.loads(settings_file.read_text())["context"]["standing_cluster_generation"] == "8"
    assert context_of(recorded[-1])["standing_cluster_generation"] == "8"


@pytest.mark.parametrize(
    ("context", "message"),
    [
        (EMAILS, "restart-standing: cluster_mode is 'transient', and only 'standing' has a standing cluster"),
        (
            [*STANDING, "-c", "standing_cluster_generation=9999"],
            "context key 'standing_cluster_generation': '10000' is not allowed; expected a whole number 1..9999",
        ),
    ],
)
def test_restart_standing_that_cannot_restart_changes_nothing_and_deploys_nothing(
    settings_file, recorded, account, capsys, context, message
) -> None:
    assert deployment.main(["configure", *context]) == 0
    before = settings_file.read_text()
    capsys.readouterr()
    assert deployment.main(["restart-standing"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert settings_file.read_text() == before
    assert recorded == []


@pytest.mark.parametrize(("generation", "name"), [("1", "ml-lab-dev-standing"), ("4", "ml-lab-dev-standing-4")])
def test_restart_standing_refuses_while_the_standing_cluster_has_not_ended(
    settings_file, recorded, account, capsys, generation, name
) -> None:
    """A new generation would replace a cluster that still takes steps (and end the running ones): refused, in one
    line naming the cluster; once it has ended, the same command restarts it."""
    running = start_standing_cluster(name)
    assert deployment.main(["configure", *STANDING, "-c", f"standing_cluster_generation={generation}"]) == 0
    before = settings_file.read_text()
    capsys.readouterr()
    assert deployment.main(["restart-standing"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert f"restart-standing: the standing cluster {running} ({name}) is WAITING, not ended: nothing to restart" in err
    assert settings_file.read_text() == before and recorded == []

    boto3.client("emr", region_name=REGION).terminate_job_flows(JobFlowIds=[running])
    assert deployment.main(["restart-standing"]) == 0
    saved = json.loads(settings_file.read_text())["context"]
    assert saved["standing_cluster_generation"] == str(int(generation) + 1)
