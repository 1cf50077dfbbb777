"""The deployment commands: your settings file, preflight, deploy, destroy and the live diff, with one-line errors.

    python -m tools.deployment configure [-c key=value ...]   make configure: write your settings (lab.settings.json)
    python -m tools.deployment deploy [-c ...]                make deploy: save the settings, preflight, cdk deploy
    python -m tools.deployment destroy [-c ...] [--confirm STAGE]   make destroy [CONFIRM=<stage>]
    python -m tools.deployment diff [-c ...]                  make diff: cdk diff against the deployed stacks

Settings: cdk.json's context, then your settings file, then ``-c`` (tools/context.py); configure and deploy write
the ``-c`` keys into the file, the others use them for that run only. Every command passes the result to cdk as
``-c`` context, so a plain ``make destroy`` or ``make deploy`` builds the same stacks as the ``make deploy
CONTEXT=...`` before it.

Destroy asks you to type the stage's name (or takes ``--confirm <stage>``, CONFIRM=<stage> in make), and only then:
ends the stage's running EMR clusters (found by the project's and stage's tags; TerminateJobFlows, at most 10 ids a
call, then waits until each is TERMINATED, with a line of progress: "TerminateJobFlows - Amazon EMR" says the call
is asynchronous and can take minutes), a cluster no template owns would otherwise keep the VPC's subnets and
security groups busy and the stack deletion would stick; turns off termination protection on the stage's stacks
(prod stacks have it: "Protect a CloudFormation stack from being deleted": a protected stack's deletion fails and
the stack remains unchanged); then runs ``cdk destroy --all --force``, which deletes the stacks in reverse
dependency order.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from stacks.settings import Settings
from tools.aws_errors import UserError, guarded
from tools.cdk_synth import CDK, offline_cli_environment
from tools.context import ROOT, context_arguments, parse_context, save_context, settings_of, user_context

PROGRAM = "deployment"
# The stacks of one stage, in reverse dependency order (stacks/app_builder.py names them <project>-<stage>-<suffix>).
STACK_SUFFIXES = ("automation", "compute", "storage")
ACTIVE_CLUSTER_STATES = ["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING", "TERMINATING"]
TERMINATE_BATCH = 10  # TerminateJobFlows takes at most 10 cluster ids
POLL_SECONDS = 15.0
CLUSTER_WAIT_SECONDS = 30 * 60

Say = Callable[[str], None]
RunCdk = Callable[[list[str]], int]


def run_cdk(arguments: list[str]) -> int:
    """The project's pinned CDK CLI with the project's Node, its output passed through; its exit status."""
    return subprocess.run([str(CDK), *arguments], cwd=ROOT, env=offline_cli_environment(), check=False).returncode


def say(line: str) -> None:
    print(f"{PROGRAM}: {line}", flush=True)


def alerts_warning(settings: Settings) -> str | None:
    """The warning line for a stage whose budget or alarms alert nobody."""
    missing = [key for key in ("budget_email", "notification_email") if getattr(settings, key) is None]
    if not missing:
        return None
    return (
        f"warning: no {' and no '.join(missing)}: the budget and alarms of {settings.name_prefix} alert nobody; "
        f"make configure CONTEXT='{' '.join(f'-c {key}=you@example.com' for key in missing)}' sets them"
    )


def stack_names(settings: Settings) -> list[str]:
    return [f"{settings.name_prefix}-{suffix}" for suffix in STACK_SUFFIXES]


def project_clusters(emr: Any, settings: Settings) -> list[dict[str, Any]]:
    """The stage's clusters that are not yet terminated: those whose tags carry the project and the stage."""
    from lab_contract.names import PROJECT_TAG_KEY, STAGE_TAG_KEY

    wanted = {PROJECT_TAG_KEY: settings.project, STAGE_TAG_KEY: settings.stage}
    clusters = []
    for page in emr.get_paginator("list_clusters").paginate(ClusterStates=ACTIVE_CLUSTER_STATES):
        for summary in page["Clusters"]:
            cluster = emr.describe_cluster(ClusterId=summary["Id"])["Cluster"]
            tags = {tag["Key"]: tag["Value"] for tag in cluster.get("Tags", [])}
            if all(tags.get(key) == value for key, value in wanted.items()):
                clusters.append(cluster)
    return clusters


def end_clusters(emr: Any, settings: Settings, *, poll_seconds: float = POLL_SECONDS, tell: Say = say) -> list[str]:
    """Terminates the stage's running clusters and waits until every one is TERMINATED; their ids."""
    clusters = project_clusters(emr, settings)
    ids = [cluster["Id"] for cluster in clusters]
    if not ids:
        tell(f"no running EMR cluster of {settings.name_prefix}")
        return []
    for cluster in clusters:
        if cluster.get("TerminationProtected"):
            emr.set_termination_protection(JobFlowIds=[cluster["Id"]], TerminationProtected=False)
    for start in range(0, len(ids), TERMINATE_BATCH):
        emr.terminate_job_flows(JobFlowIds=ids[start : start + TERMINATE_BATCH])
    started = time.monotonic()
    while True:
        states = {
            cluster_id: emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"] for cluster_id in ids
        }
        waiting = {cluster_id: state for cluster_id, state in states.items() if not state.startswith("TERMINATED")}
        elapsed = time.monotonic() - started
        tell(
            f"ending {len(ids)} EMR cluster(s): "
            + ", ".join(f"{i} {s}" for i, s in states.items())
            + f" ({elapsed:.0f} s)"
        )
        if not waiting:
            return ids
        if elapsed > CLUSTER_WAIT_SECONDS:
            raise UserError(f"EMR clusters {', '.join(waiting)} still not terminated: see the EMR console, then retry")
        time.sleep(poll_seconds)


def unprotect_stacks(cloudformation: Any, settings: Settings, *, tell: Say = say) -> list[str]:
    """Turns termination protection off on the stage's deployed stacks that have it; their names."""
    from botocore.exceptions import ClientError

    unprotected = []
    for name in stack_names(settings):
        try:
            stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
        except ClientError as error:
            if "does not exist" in str(error):
                continue
            raise
        if stack.get("EnableTerminationProtection"):
            cloudformation.update_termination_protection(StackName=name, EnableTerminationProtection=False)
            tell(f"termination protection off: {name}")
            unprotected.append(name)
    return unprotected


def confirm(settings: Settings, confirmation: str | None, ask: Callable[[str], str] | None) -> None:
    """Destroying a stage needs its name typed (or given): UserError otherwise."""
    stage = settings.stage
    kept = "its buckets' data is retained" if not settings.removes_data_on_destroy else "its buckets and data go too"
    if confirmation is None and ask is not None:
        question = f"destroy every stack of {settings.name_prefix} in {settings.region} ({kept})? type {stage}: "
        try:
            confirmation = ask(question)
        except EOFError:  # Ctrl-D, or no terminal after all: no answer
            confirmation = None
    if confirmation is None:
        raise UserError(f"destroying {settings.name_prefix} needs a confirmation: run make destroy CONFIRM={stage}")
    if confirmation.strip() != stage:
        raise UserError(f"{confirmation.strip()!r} is not the stage {stage!r}: nothing destroyed")


def destroy(
    context: dict[str, str],
    *,
    confirmation: str | None,
    ask: Callable[[str], str] | None,
    session: Any,
    cdk: RunCdk,
    poll_seconds: float = POLL_SECONDS,
) -> int:
    settings = settings_of(context)
    confirm(settings, confirmation, ask)
    end_clusters(session.client("emr"), settings, poll_seconds=poll_seconds)
    unprotect_stacks(session.client("cloudformation"), settings)
    return cdk(["destroy", "--all", "--force", *context_arguments(context)])


def build_wheelhouse(arguments: list[str]) -> None:
    """`make wheelhouse` when the isolated network mode needs one and it is missing or stale (tools/wheelhouse.py)."""
    command = [sys.executable, "-m", "tools.wheelhouse", "--if-needed", *arguments]
    if subprocess.run(command, cwd=ROOT, check=False).returncode != 0:
        raise UserError("the wheelhouse for the isolated network mode could not be built: see the lines above")


def cache_workstation_image(arguments: list[str]) -> None:
    """The workstation's image resolved into cdk.context.json unless it is there already (tools/workstation_image.py
    --if-missing): later deploys keep it, so a new Amazon Linux release never replaces the instance unasked;
    make refresh-image moves it on purpose."""
    command = [sys.executable, "-m", "tools.workstation_image", "--if-missing", *arguments]
    if subprocess.run(command, cwd=ROOT, check=False).returncode != 0:
        raise UserError(
            "the workstation's image could not be resolved: see the line above (make refresh-image retries)"
        )


def deploy(
    context: dict[str, str],
    *,
    preflight: Callable[[Settings], None],
    wheelhouse: Callable[[list[str]], None],
    workstation_image: Callable[[list[str]], None],
    cdk: RunCdk,
) -> int:
    """Warns when alerts reach nobody, runs the preflight, builds the wheelhouse if the network mode needs one,
    caches the workstation's image, then cdk deploy."""
    settings = settings_of(context)
    warning = alerts_warning(settings)
    if warning:
        say(warning)
    preflight(settings)
    arguments = context_arguments(context)
    wheelhouse(arguments)
    workstation_image(arguments)
    return cdk(["deploy", "--all", "--require-approval", "broadening", *arguments])


def diff(context: dict[str, str], *, session: Any, cdk: RunCdk) -> int:
    """cdk diff against the deployed stacks when boto3's credential chain finds credentials; else says why not."""
    if session.get_credentials() is None:
        say("no AWS credentials (boto3's credential chain found none): skipped 'cdk diff' against deployed stacks")
        return 0
    return cdk(["diff", *context_arguments(context)])


def interactive_prompt() -> Callable[[str], str] | None:
    return input if sys.stdin.isatty() else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m tools.{PROGRAM}", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("configure", "deploy", "destroy", "diff"))
    parser.add_argument("-c", "--context", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--confirm", help="destroy: the stage's name, instead of typing it")
    args = parser.parse_args(argv)

    def body() -> int:
        overrides = parse_context(args.context)
        saves = args.command in ("configure", "deploy")
        context = save_context(overrides) if saves else user_context(overrides)
        settings = settings_of(context)
        if args.command == "configure":
            say(
                f"saved to your settings file: {', '.join(f'{k}={v}' for k, v in sorted(context.items())) or 'nothing'}"
            )
            warning = alerts_warning(settings)
            if warning:
                say(warning)
            return 0
        if args.command == "deploy":
            from tools.preflight import preflight_or_fail

            return deploy(
                context,
                preflight=preflight_or_fail,
                wheelhouse=build_wheelhouse,
                workstation_image=cache_workstation_image,
                cdk=run_cdk,
            )
        import boto3

        session = boto3.Session(region_name=settings.region)
        if args.command == "diff":
            return diff(context, session=session, cdk=run_cdk)
        return destroy(context, confirmation=args.confirm, ask=interactive_prompt(), session=session, cdk=run_cdk)

    return guarded(PROGRAM, body)


if __name__ == "__main__":
    sys.exit(main())
