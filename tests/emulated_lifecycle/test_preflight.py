"""make preflight against the moto server: the same command a user runs (python -m tools.preflight), with the
endpoint overridden to the emulator on 127.0.0.1, for a fresh account, an account with a small vCPU quota and a
ready one. One line per check, in the order of tools/preflight.py, and a failing check ends in one line and exit 1.

The emulator serves EC2's on-demand standard vCPU quota (L-1216C47A) from EMULATOR_ON_DEMAND_VCPUS
(emulator_server.py); the default settings need 14 vCPUs on demand: t4g.large (2) + a m7g.xlarge primary (4) +
two m7g.xlarge core nodes (8)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import lifecycle_support as lifecycle
import pytest

pytestmark = pytest.mark.emulated

CHECKS = ["credentials", "region", "cdk bootstrap", "EMR public", "EMR cleanup", "vCPU quota", "e-mails"]
EMAILS = ["-c", "budget_email=budget@example.com", "-c", "notification_email=alerts@example.com"]


@pytest.fixture
def quota(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> str:
    value = getattr(request, "param", "32")
    monkeypatch.setenv("EMULATOR_ON_DEMAND_VCPUS", value)  # read by the emulator when it starts
    return value


def preflight(emulator: lifecycle.Emulator, workdir: Path, *context: str) -> tuple[int, list[tuple[str, str]], str]:
    env = lifecycle.offline_env(emulator.endpoint, workdir)
    env["LAB_SETTINGS_FILE"] = str(workdir / "absent.json")
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "tools.preflight", *context],
        cwd=lifecycle.ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    print(f"preflight took {time.monotonic() - started:.1f} s")
    lines = [line.removeprefix("preflight: ") for line in result.stdout.splitlines()]
    return result.returncode, [(line[:4].strip(), line[5:19].strip()) for line in lines], result.stderr


def make_ready(clients: lifecycle.Clients) -> None:
    """What a prepared account has: the bootstrap stack and its version, Block Public Access, the cleanup role."""
    template = '{"Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}}}'
    clients.cloudformation.create_stack(StackName="CDKToolkit", TemplateBody=template)
    clients.ssm.put_parameter(Name="/cdk-bootstrap/hnb659fds/version", Value="27", Type="String")
    clients.emr.put_block_public_access_configuration(
        BlockPublicAccessConfiguration={
            "BlockPublicSecurityGroupRules": True,
            "PermittedPublicSecurityGroupRuleRanges": [{"MinRange": 22, "MaxRange": 22}],
        }
    )
    # As EMR creates it ("Using service-linked roles for Amazon EMR for cleanup"); moto's CreateServiceLinkedRole
    # would name it AWSServiceRoleForelasticmapreduce.
    trust = '{"Statement": [{"Effect": "Allow", "Principal": {"Service": "elasticmapreduce.amazonaws.com"}, '
    clients.iam.create_role(
        RoleName="AWSServiceRoleForEMRCleanup",
        Path="/aws-service-role/elasticmapreduce.amazonaws.com/",
        AssumeRolePolicyDocument=trust + '"Action": "sts:AssumeRole"}]}',
    )


def test_a_fresh_account_is_told_to_bootstrap(quota, emulator, tmp_path: Path) -> None:
    code, lines, err = preflight(emulator, tmp_path)
    assert [name for _, name in lines] == CHECKS
    statuses = {name: status for status, name in lines}
    assert statuses["credentials"] == statuses["region"] == statuses["vCPU quota"] == "ok"
    assert statuses["cdk bootstrap"] == "FAIL"
    assert statuses["EMR cleanup"] == statuses["e-mails"] == "warn"
    assert code == 1
    assert err == "preflight: 1 check(s) failed (cdk bootstrap): fix them as their lines say, then retry\n"


@pytest.mark.parametrize("quota", ["5"], indirect=True)
def test_a_quota_below_what_the_settings_need_fails(quota, emulator, tmp_path: Path) -> None:
    make_ready(lifecycle.Clients(emulator.endpoint))
    code, lines, err = preflight(emulator, tmp_path, *EMAILS)
    assert [status for status, _ in lines] == ["ok", "ok", "ok", "ok", "ok", "FAIL", "ok"]
    assert code == 1 and "(vCPU quota)" in err


def test_a_ready_account_passes_every_check(quota, emulator, tmp_path: Path) -> None:
    make_ready(lifecycle.Clients(emulator.endpoint))
    code, lines, err = preflight(emulator, tmp_path, *EMAILS)
    assert lines == [("ok", name) for name in CHECKS]
    assert (code, err) == (0, "")


@pytest.mark.parametrize("quota", ["10"], indirect=True)
def test_the_quota_is_compared_with_what_the_settings_choose(quota, emulator, tmp_path: Path) -> None:
    """10 vCPUs fit one core node (2 + 4 + 4), not two."""
    make_ready(lifecycle.Clients(emulator.endpoint))
    one, two = ("-c", "emr_core_instance_count=1"), ("-c", "emr_core_instance_count=2")
    assert preflight(emulator, tmp_path, *EMAILS, *one)[0] == 0
    code, lines, _ = preflight(emulator, tmp_path, *EMAILS, *two)
    assert code == 1 and ("FAIL", "vCPU quota") in lines
