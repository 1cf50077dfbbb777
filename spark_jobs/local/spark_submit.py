"""The one way this project submits the ALS job on this machine: the real spark-submit of the installed pyspark.

run_sample (``make run``), the benchmarks and the tests all build the job's arguments, the spark-submit
command and its environment here. ``write_package_zip`` builds what EMR and the workstation get through
``--py-files``: a zip whose root holds ``als/``. Without it the entry script imports the package that sits
beside it (``spark_jobs/als/``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pyspark

SPARK_JOBS = Path(__file__).resolve().parents[1]
JOB = SPARK_JOBS / "als_job.py"
JOB_PACKAGE = SPARK_JOBS / "als"
VENV_JAVA = SPARK_JOBS.parent / ".venv" / "java-home"
QUIET_CONF = {"spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false"}


def job_arguments(**options: object) -> list[str]:
    """The job's command line from keyword options: ``test_ratings=path`` gives ``--test-ratings path``,
    ``True`` the bare flag; ``None`` and ``False`` leave the option out."""
    argv: list[str] = []
    for name, value in options.items():
        if value is None or value is False:
            continue
        flag = "--" + name.replace("_", "-")
        argv += [flag] if value is True else [flag, str(value)]
    return argv


def spark_submit_command(
    job_args: list[str],
    master: str = "local[2]",
    job: Path = JOB,
    py_files: Path | None = None,
    driver_memory: str = "2g",
    conf: Mapping[str, str] = QUIET_CONF,
) -> list[str]:
    """spark-submit from the installed pyspark package, submitting ``job`` (and ``py_files``, when given)."""
    spark_submit = Path(pyspark.__file__).resolve().parent / "bin" / "spark-submit"
    command = [str(spark_submit), "--master", master, "--driver-memory", driver_memory]
    command += [arg for key, value in conf.items() for arg in ("--conf", f"{key}={value}")]
    if py_files is not None:
        command += ["--py-files", str(py_files)]
    return [*command, str(job), *job_args]


def spark_submit_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with the project's Java when none is chosen, and this
    interpreter for Spark's Python driver and workers unless the caller chose one."""
    env = dict(os.environ if base is None else base)
    if not env.get("JAVA_HOME") and VENV_JAVA.exists():
        env["JAVA_HOME"] = str(VENV_JAVA)
    env.setdefault("PYSPARK_PYTHON", sys.executable)
    env.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    return env


def _echo(line: str, _: float) -> None:
    print(line, flush=True)


def submit(
    job_args: list[str],
    log_path: Path,
    master: str = "local[2]",
    job: Path = JOB,
    on_line: Callable[[str, float], None] = _echo,
    py_files: Path | None = None,
) -> int:
    """Run the job in a subprocess and return its exit code. Spark's log (stderr) goes to log_path;
    each line the job prints (stdout) is handed to on_line with its arrival time as it comes."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:
        command = spark_submit_command(job_args, master, job, py_files)
        env = spark_submit_environment()
        with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=log, text=True, bufsize=1) as process:
            assert process.stdout is not None
            for line in process.stdout:
                on_line(line.rstrip("\n"), time.monotonic())
            return process.wait()


def package_sources(package: Path = JOB_PACKAGE) -> Iterator[tuple[str, Path]]:
    """(name inside the zip, file) for every module of the package, sorted: ``als/job.py`` and so on."""
    for path in sorted(package.rglob("*.py")):
        if "__pycache__" not in path.parts:
            yield f"{package.name}/{path.relative_to(package).as_posix()}", path


def write_package_zip(destination: Path, package: Path = JOB_PACKAGE) -> Path:
    """The zip --py-files ships: the package's modules under ``als/`` at its root, no bytecode."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in package_sources(package):
            archive.write(path, name)
    return destination
