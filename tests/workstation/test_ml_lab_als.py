"""The workstation as its users reach it: the user data and the setup script run as root (as cloud-init and systemd
run them), then ``ml-lab-als`` runs as an unprivileged user, as Session Manager's ``ssm-user`` does, on the real
job and the bundled sample, to its results.

Nothing is installed on this machine. The scripts come from the synthesised template (every placeholder filled,
every intrinsic resolved); their absolute paths (/opt/ml-lab, /usr/local/sbin, /usr/local/bin,
/etc/systemd/system) are moved under a scratch root; ``dnf``, ``pip3`` and ``systemctl`` are stand-ins that record
their arguments; ``aws`` is a stand-in (stand_in_aws.py) serving S3 from a local folder filled from the assembly's
assets; the project's pyspark (spark-submit) and Java play the ones setup installs.

What makes the runner's user unprivileged here is what stops ssm-user on the instance: the permission bits. Once
setup has run, nothing under the scratch root is writable (as nothing under /opt/ml-lab or /usr/local is for
ssm-user), and the runner runs without any capability: as an ordinary user directly, as root through ``setpriv``
with every capability dropped (root without CAP_DAC_OVERRIDE is held to the bits like anyone; running as another
uid is not possible here, the project's Python lives in root's private home). After the job, the scratch root must
be exactly as setup left it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stacks.outputs import SAMPLE_FILE, SAMPLE_KEY

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
STAND_IN_AWS = Path(__file__).with_name("stand_in_aws.py")
ACCOUNT, REGION = "123456789012", "eu-west-2"
WITHOUT_CAPABILITIES = ["setpriv", "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all", "--no-new-privs"]
ROOT_PATHS = re.compile(r"(/opt/ml-lab|/usr/local/sbin|/usr/local/bin|/etc/systemd/system)(?=[/\s'\"]|$)", re.M)

pytestmark = pytest.mark.slow


def resolve(value: Any) -> Any:
    """A CloudFormation value with the intrinsics the workstation's user data uses evaluated: the asset bucket
    (Fn::Sub of the account and region) and the imported bucket ARNs (named after their export)."""
    if isinstance(value, str):
        return value
    [(function, argument)] = value.items()
    if function == "Fn::Sub":
        return argument.replace("${AWS::AccountId}", ACCOUNT).replace("${AWS::Region}", REGION)
    if function == "Fn::ImportValue":
        return f"arn:aws:s3:::{argument.removesuffix('-arn')}"
    if function == "Fn::Split":
        return resolve(argument[1]).split(argument[0])
    if function == "Fn::Select":
        return resolve(argument[1])[argument[0]]
    if function == "Fn::Join":
        return argument[0].join(resolve(part) for part in argument[1])
    raise AssertionError(f"the user data uses {function}: teach resolve() what it evaluates to")


def fill_s3_with_assets(assembly: Path, user_data: str, s3_root: Path) -> None:
    """Every file asset the user data names, at its bucket and key, as `cdk deploy` would publish it."""
    for manifest in assembly.glob("*.assets.json"):
        for asset in json.loads(manifest.read_text()).get("files", {}).values():
            for destination in asset["destinations"].values():
                bucket, key = resolve({"Fn::Sub": destination["bucketName"]}), destination["objectKey"]
                if f"s3://{bucket}/{key}" not in user_data:
                    continue
                source, target = assembly / asset["source"]["path"], s3_root / bucket / key
                target.parent.mkdir(parents=True, exist_ok=True)
                if asset["source"].get("packaging") == "zip":
                    shutil.make_archive(str(target.with_suffix("")), "zip", source)
                else:
                    shutil.copyfile(source, target)


def tree(root: Path) -> dict[str, tuple[int, int, bytes]]:
    """Each path under root with its mode, owner and content: what "unchanged" is checked against."""
    return {
        str(path.relative_to(root)): (
            path.stat().st_mode,
            path.stat().st_uid,
            path.read_bytes() if path.is_file() else b"",
        )
        for path in sorted(root.rglob("*"))
    }


def executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A scratch folder an unprivileged user can reach (pytest's own tmp_path is private to this user)."""
    folder = Path(tempfile.mkdtemp(prefix="workstation-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        for path in [folder, *folder.rglob("*")]:
            if path.is_dir() and not path.is_symlink():
                path.chmod(path.stat().st_mode | stat.S_IWUSR)
        shutil.rmtree(folder)


def run(command: list[str], env: dict[str, str], *, as_user: bool = False) -> subprocess.CompletedProcess[str]:
    if as_user and os.geteuid() == 0:
        command = [*WITHOUT_CAPABILITIES, *command]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=False, timeout=600)


def test_ml_lab_als_runs_the_job_for_an_unprivileged_user_and_setup_runs_twice(
    synth, scratch: Path, one_run_jvm: dict[str, str]
) -> None:
    app = synth(nag=False, network_mode="public")
    [instance] = [r for r in app.template("compute")["Resources"].values() if r["Type"] == "AWS::EC2::Instance"]
    user_data = resolve(instance["Properties"]["UserData"]["Fn::Base64"])
    rootfs, s3_root, home, bin_dir = (scratch / name for name in ("rootfs", "s3", "home", "bin"))
    for folder in (s3_root, home, bin_dir, *(rootfs / path for path in ("opt", "usr/local/sbin", "usr/local/bin"))):
        folder.mkdir(parents=True)
    (rootfs / "etc/systemd/system").mkdir(parents=True)
    calls = scratch / "calls.log"
    calls.touch()
    calls.chmod(0o666)
    fill_s3_with_assets(app.outdir, user_data, s3_root)
    (user_data_file := scratch / "user-data.sh").write_text(ROOT_PATHS.sub(lambda m: f"{rootfs}{m[1]}", user_data))
    for command in ("dnf", "pip3", "systemctl"):
        executable(bin_dir / command, f'#!/bin/sh\necho "{command} $*" >> {calls}\n')
    executable(bin_dir / "aws", f'#!/bin/sh\nexec "{sys.executable}" "{STAND_IN_AWS}" "$@"\n')
    system_path = f"{bin_dir}{os.pathsep}{VENV_BIN}{os.pathsep}/usr/bin{os.pathsep}/bin"
    root_env = {"PATH": system_path, "HOME": "/root", "STAND_IN_S3_ROOT": str(s3_root), "STAND_IN_AWS_LOG": str(calls)}

    # cloud-init runs the user data, which starts the unit; the unit runs setup (twice: the second is harmless).
    after_setup = []
    for _ in range(2):
        result = run(["bash", str(user_data_file)], root_env)
        assert (result.returncode, result.stderr) == (0, "")
        unit = (rootfs / "etc/systemd/system/ml-lab-setup.service").read_text()
        [setup] = re.findall(r"^ExecStart=(\S+)$", unit, re.M)
        result = run([setup], root_env)
        assert result.returncode == 0, result.stderr
        after_setup.append(tree(rootfs))
    assert after_setup[0] == after_setup[1]
    assert (rootfs / "opt/ml-lab/ready").exists()
    assert calls.read_text().count("dnf install -y java-17-amazon-corretto-headless python3-pip\n") == 2

    ratings_bucket = re.search(r's3://([^/\s"]+)/\$key', user_data)
    results_bucket = re.search(r"aws s3 sync .* s3://([^/\s]+)/", user_data)
    assert ratings_bucket and results_bucket and ratings_bucket[1] != results_bucket[1]
    (s3_root / ratings_bucket[1] / SAMPLE_KEY).parent.mkdir(parents=True)
    # The sample's first 45,000 ratings (of ~90,000) at the sample's key: the test is about the wrapper, the user
    # and the folders it runs in; what the job makes of the whole sample is make run's business.
    sample_lines = (ROOT / SAMPLE_FILE).read_text().splitlines(keepends=True)
    (s3_root / ratings_bucket[1] / SAMPLE_KEY).write_text("".join(sample_lines[:45_000]))
    (s3_root / results_bucket[1]).mkdir()
    for path in [rootfs, *rootfs.rglob("*")]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    as_setup_left_it = tree(rootfs)
    user_env = {
        "PATH": f"{rootfs}/usr/local/bin{os.pathsep}{system_path}",
        "HOME": str(home),
        "JAVA_HOME": str(ROOT / ".venv" / "java-home"),
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "STAND_IN_S3_ROOT": str(s3_root),
        "STAND_IN_AWS_LOG": str(calls),
        **one_run_jvm,
    }

    usage = run(["ml-lab-als"], user_env, as_user=True)
    assert (usage.returncode, usage.stderr) == (
        2,
        f"usage: ml-lab-als RATINGS_KEY [job options], e.g. ml-lab-als {SAMPLE_KEY}\n",
    )
    # Job options after the key reach the job; five sweeps instead of the defaults (20 and 10) keep the run short.
    job = run(["ml-lab-als", SAMPLE_KEY, "--max-iter", "5", "--ranking-max-iter", "5"], user_env, as_user=True)
    assert job.returncode == 0, job.stdout[-3000:] + job.stderr[-3000:]

    assert tree(rootfs) == as_setup_left_it, "ml-lab-als wrote into root's folders"
    [run_dir] = (s3_root / results_bucket[1] / "runs").iterdir()
    assert (run_dir / "_SUCCESS").is_file()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert 0.5 < metrics["rmse"] < metrics["baseline_rmse"]
    assert metrics["params"]["max_iter"] == metrics["params"]["ranking"]["max_iter"] == 5
    [work] = (home / "ml-lab").glob("run.*")
    assert sorted(path.name for path in work.iterdir()) == ["als.zip", "als_job.py", "runs", "u.data"]
