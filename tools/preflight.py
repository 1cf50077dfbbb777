"""make preflight: what a real account needs before `make deploy`, one line per check, in seconds.

    python -m tools.preflight [-c key=value ...]

Each check prints ``ok``, ``warn`` (deploys, but read the line) or ``FAIL`` (the deployment would stop or a job
would fail): credentials (STS GetCallerIdentity); the region against the settings' allow-list; CDK bootstrap (the
CDKToolkit stack and its version parameter, at least the version the templates' CheckBootstrapVersion rule asks
for: "cdk bootstrap" in the CDK v2 guide); EMR Block Public Access (GetBlockPublicAccessConfiguration; "Configure
Block Public Access for Amazon EMR": on, EMR refuses a cluster whose security groups allow 0.0.0.0/0 on a port not
excepted; the project's allow none, so on is safe and recommended); the EMR cleanup service-linked role ("Using
service-linked roles for Amazon EMR for cleanup": EMR creates AWSServiceRoleForEMRCleanup at the first cluster when
it is absent, which the submitting role must be allowed to do); the on-demand vCPU quota (Service Quotas, ec2
L-1216C47A "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances", counted in vCPUs) against the vCPUs
of the workstation and the largest on-demand cluster the settings allow; the budget and alert e-mails. `make deploy`
runs it first and stops on a FAIL. Exit status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from stacks.settings import Settings
from tools.aws_errors import UserError, guarded
from tools.context import parse_context, settings_from

PROGRAM = "preflight"
BOOTSTRAP_STACK = "CDKToolkit"
BOOTSTRAP_VERSION_PARAMETER = "/cdk-bootstrap/hnb659fds/version"  # the default qualifier's
MINIMUM_BOOTSTRAP_VERSION = 6  # the synthesised templates' CheckBootstrapVersion rule refuses 1-5
EMR_CLEANUP_ROLE = "AWSServiceRoleForEMRCleanup"
ON_DEMAND_STANDARD_QUOTA = ("ec2", "L-1216C47A")


@dataclass(frozen=True)
class Check:
    status: str  # "ok", "warn" or "FAIL"
    name: str
    detail: str

    def line(self) -> str:
        return f"{self.status:<4} {self.name:<14} {self.detail}"


def check_credentials(session: Any) -> Check:
    identity = session.client("sts").get_caller_identity()
    return Check("ok", "credentials", f"account {identity['Account']} as {identity['Arn']}")


def check_region(settings: Settings) -> Check:
    # Settings refuse a region outside the allow-list before any check runs (stacks/settings.py).
    return Check("ok", "region", f"{settings.region}, inside the allow-list {', '.join(settings.allowed_regions)}")


def check_bootstrap(session: Any, settings: Settings, account: str) -> Check:
    from botocore.exceptions import ClientError

    how = f"run ./cdk bootstrap aws://{account}/{settings.region} (README section 'First deploy in a new account')"
    try:
        stack = session.client("cloudformation").describe_stacks(StackName=BOOTSTRAP_STACK)["Stacks"][0]
        version = session.client("ssm").get_parameter(Name=BOOTSTRAP_VERSION_PARAMETER)["Parameter"]["Value"]
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("ValidationError", "ParameterNotFound"):
            raise
        return Check("FAIL", "cdk bootstrap", f"{settings.region} is not bootstrapped: {how}")
    if not stack["StackStatus"].endswith("_COMPLETE") or "ROLLBACK" in stack["StackStatus"]:
        return Check("FAIL", "cdk bootstrap", f"{BOOTSTRAP_STACK} is {stack['StackStatus']}: {how}")
    if int(version) < MINIMUM_BOOTSTRAP_VERSION:
        return Check(
            "FAIL", "cdk bootstrap", f"version {version}, the templates need {MINIMUM_BOOTSTRAP_VERSION}+: {how}"
        )
    return Check("ok", "cdk bootstrap", f"{BOOTSTRAP_STACK} {stack['StackStatus']}, version {version}")


def check_block_public_access(session: Any) -> Check:
    configuration = session.client("emr").get_block_public_access_configuration()["BlockPublicAccessConfiguration"]
    if configuration.get("BlockPublicSecurityGroupRules"):
        ranges = configuration.get("PermittedPublicSecurityGroupRuleRanges", [])
        ports = ", ".join(f"{r['MinRange']}-{r.get('MaxRange', r['MinRange'])}" for r in ranges) or "none"
        return Check("ok", "EMR public", f"Block Public Access on (public ports allowed: {ports}; the lab opens none)")
    return Check(
        "warn",
        "EMR public",
        "Block Public Access is off in this region: turn it on (aws emr put-block-public-access-configuration "
        "--block-public-access-configuration BlockPublicSecurityGroupRules=true); the lab's clusters launch either way",
    )


def check_cleanup_role(session: Any) -> Check:
    from botocore.exceptions import ClientError

    try:
        session.client("iam").get_role(RoleName=EMR_CLEANUP_ROLE)
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchEntity":
            raise
        return Check(
            "warn",
            "EMR cleanup",
            f"{EMR_CLEANUP_ROLE} absent: EMR creates it with the first cluster (the submitting role needs "
            "iam:CreateServiceLinkedRole for it); "
            "or create it now: aws iam create-service-linked-role --aws-service-name elasticmapreduce.amazonaws.com",
        )
    return Check("ok", "EMR cleanup", f"{EMR_CLEANUP_ROLE} exists")


def on_demand_instances(settings: Settings) -> dict[str, int]:
    """Instance type -> how many run on demand at most: the workstation, a cluster's primary and its most core
    nodes (the Spot task fleet counts against the Spot quota, not this one)."""
    counts: dict[str, int] = {}
    for instance_type, count in (
        (settings.workstation_instance_type, 1),
        (settings.emr_primary_instance_type, 1),
        (settings.emr_core_instance_type, settings.emr_core_instance_count),
    ):
        counts[instance_type] = counts.get(instance_type, 0) + count
    return counts


def check_vcpu_quota(session: Any, settings: Settings) -> Check:
    from botocore.exceptions import ClientError

    counts = on_demand_instances(settings)
    described = session.client("ec2").describe_instance_types(InstanceTypes=sorted(counts))["InstanceTypes"]
    vcpus = {item["InstanceType"]: item["VCpuInfo"]["DefaultVCpus"] for item in described}
    needed = sum(vcpus[instance_type] * count for instance_type, count in counts.items())
    quotas = session.client("service-quotas")
    service, code = ON_DEMAND_STANDARD_QUOTA
    try:
        quota = quotas.get_service_quota(ServiceCode=service, QuotaCode=code)["Quota"]["Value"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchResourceException":
            raise
        quota = quotas.get_aws_default_service_quota(ServiceCode=service, QuotaCode=code)["Quota"]["Value"]
    shape = " + ".join(f"{count}x {instance_type} ({vcpus[instance_type]})" for instance_type, count in counts.items())
    if quota < needed:
        return Check(
            "FAIL",
            "vCPU quota",
            f"on-demand standard quota {quota:g} vCPUs < {needed} needed ({shape}): request an increase of "
            f"{code} in Service Quotas, or choose smaller types or fewer core nodes",
        )
    return Check(
        "ok", "vCPU quota", f"{quota:g} on-demand vCPUs >= {needed} needed ({shape}; running instances count too)"
    )


def check_emails(settings: Settings) -> Check:
    missing = [key for key in ("budget_email", "notification_email") if getattr(settings, key) is None]
    if missing:
        keys = " ".join(f"-c {key}=you@example.com" for key in missing)
        return Check(
            "warn", "e-mails", f"no {' and no '.join(missing)}: alerts reach nobody; make configure CONTEXT='{keys}'"
        )
    return Check("ok", "e-mails", f"budget to {settings.budget_email}, alerts to {settings.notification_email}")


def run_checks(settings: Settings, session: Any, tell: Callable[[str], None]) -> list[Check]:
    """Every check, each printed as it finishes; credentials first (nothing else can run without them)."""
    credentials = check_credentials(session)
    account = credentials.detail.split()[1]
    checks = [credentials, check_region(settings)]
    tell(checks[0].line())
    tell(checks[1].line())
    for check in (
        lambda: check_bootstrap(session, settings, account),
        lambda: check_block_public_access(session),
        lambda: check_cleanup_role(session),
        lambda: check_vcpu_quota(session, settings),
        lambda: check_emails(settings),
    ):
        checks.append(check())
        tell(checks[-1].line())
    return checks


def preflight_or_fail(settings: Settings, session: Any | None = None) -> None:
    """The preflight `make deploy` runs: UserError when a check fails."""
    if session is None:
        import boto3

        session = boto3.Session(region_name=settings.region)
    checks = run_checks(settings, session, lambda line: print(f"{PROGRAM}: {line}", flush=True))
    failed = [check.name for check in checks if check.status == "FAIL"]
    if failed:
        raise UserError(f"{len(failed)} check(s) failed ({', '.join(failed)}): fix them as their lines say, then retry")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m tools.{PROGRAM}", description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--context", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    return guarded(PROGRAM, lambda: preflight_or_fail(settings_from(parse_context(args.context))))


if __name__ == "__main__":
    sys.exit(main())
