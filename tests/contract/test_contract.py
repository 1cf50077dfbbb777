"""The runtime contract (lab_contract/) holds on every side: the templates, the functions' assets, the handlers at
cold start, and the Spark job, which runs on EMR from its own zip and keeps pinned copies of three facts."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lab_contract import aws, layout, modes, names, working_hours
from lab_contract.environments import (
    EmrEventsEnvironment,
    FunctionEnvironment,
    InvalidEnvironment,
    SpendGuardEnvironment,
    SubmitJobEnvironment,
)
from stacks.constructs.lambda_function import tzdata_package
from tests.lambda_support import SAMPLE_ENVIRONMENTS, fresh_handler

ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENTS: dict[str, type[FunctionEnvironment]] = {
    "submit_job": SubmitJobEnvironment,
    "emr_events": EmrEventsEnvironment,
    "spend_guard": SpendGuardEnvironment,
}
POWERTOOLS_VARIABLES = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_LOG_LEVEL"}


def functions_of(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The project's functions (not CDK's generated handlers) by their Powertools service name (= folder)."""
    found = {}
    for resource in template["Resources"].values():
        variables = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
        if resource["Type"] == "AWS::Lambda::Function" and "POWERTOOLS_SERVICE_NAME" in variables:
            found[variables["POWERTOOLS_SERVICE_NAME"]] = resource
    return found


@pytest.mark.parametrize("cluster_mode", modes.CLUSTER_MODES)
def test_each_function_gets_exactly_its_contract_variables(synth, cluster_mode: str) -> None:
    functions = functions_of(synth(cluster_mode=cluster_mode).template("automation"))
    assert set(functions) == set(ENVIRONMENTS)
    for folder, environment in ENVIRONMENTS.items():
        variables = functions[folder]["Properties"]["Environment"]["Variables"]
        assert set(variables) == set(environment.variable_names()) | POWERTOOLS_VARIABLES, folder


def test_submit_job_is_told_the_cluster_mode_it_was_synthesised_for(synth) -> None:
    for cluster_mode in modes.CLUSTER_MODES:
        variables = functions_of(synth(cluster_mode=cluster_mode).template("automation"))["submit_job"]
        assert variables["Properties"]["Environment"]["Variables"]["CLUSTER_MODE"] == cluster_mode


def test_uploads_notify_the_submit_function_for_exactly_the_contract_suffixes(lab) -> None:
    [notifications] = [
        resource["Properties"]["NotificationConfiguration"]
        for resource in lab.template("automation")["Resources"].values()
        if resource["Type"] == "Custom::S3BucketNotifications"
    ]
    filters = [
        {rule["Name"]: rule["Value"] for rule in item["Filter"]["Key"]["FilterRules"]}
        for item in notifications["LambdaFunctionConfigurations"]
    ]
    assert sorted(f["suffix"] for f in filters) == sorted(layout.RATINGS_SUFFIXES)
    assert {f["prefix"] for f in filters} == {layout.RATINGS_PREFIX}


# ------------------------------------------------------------------------------------------------ the assets
def function_assets(lab) -> dict[str, Path]:
    """The synthesised asset folder of each function, by folder name (from its entry module)."""
    found = {}
    for path in lab.outdir.iterdir():
        if path.name.startswith("asset.") and (path / "handler.py").exists():
            for folder in ENVIRONMENTS:
                if (path / "lambda_functions" / folder).is_dir():
                    found[folder] = path
    return found


def files_below(folder: Path) -> dict[str, bytes]:
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def test_each_function_asset_holds_its_package_and_the_contract_and_nothing_else(lab) -> None:
    assets = function_assets(lab)
    assert set(assets) == set(ENVIRONMENTS)
    contract = {f"lab_contract/{name}": data for name, data in files_below(ROOT / "lab_contract").items()}
    for folder, asset in assets.items():
        own = {
            f"lambda_functions/{folder}/{name}": data
            for name, data in files_below(ROOT / "lambda_functions" / folder).items()
        }
        expected = {
            **own,
            **contract,
            "lambda_functions/__init__.py": (ROOT / "lambda_functions/__init__.py").read_bytes(),
        }
        if folder == "spend_guard":  # it reads time zones: the tzdata package rides along (lambda_function.py)
            expected |= {f"tzdata/{name}": data for name, data in files_below(tzdata_package()).items()}
        expected = {name: data for name, data in expected.items() if "__pycache__" not in name}
        found = files_below(asset)
        entry = found.pop("handler.py").decode()
        assert found == expected, folder
        assert f"from lambda_functions.{folder}.handler import lambda_handler as lambda_handler" in entry


# Lambda's import, with only the asset and the libraries Lambda provides (site-packages here: boto3 from the
# runtime, Powertools from its layer) on the path; no bytecode written into the asset.
IMPORT_AS_LAMBDA = """
import json, sys
sys.path.insert(0, sys.argv[1])
import handler
ours = ("handler", "lambda_functions", "lab_contract", "stacks", "tools", "tests", "spark_jobs", "bench")
modules = {name: module.__file__ for name, module in sys.modules.items() if name.split(".")[0] in ours}
print(json.dumps({"callable": callable(handler.lambda_handler), "modules": modules}))
"""


@pytest.mark.parametrize("folder", ENVIRONMENTS)
def test_lambda_imports_each_handler_from_its_asset_alone(lab, folder: str, tmp_path: Path) -> None:
    asset = function_assets(lab)[folder]
    environ = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_DEFAULT_REGION": "eu-west-2",
        **SAMPLE_ENVIRONMENTS[folder].variables(),
    }
    result = subprocess.run(
        [sys.executable, "-I", "-B", "-c", IMPORT_AS_LAMBDA, str(asset)],
        capture_output=True,
        text=True,
        env=environ,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    imported = json.loads(result.stdout)
    assert imported["callable"]
    assert {name.split(".")[0] for name in imported["modules"]} == {"handler", "lambda_functions", "lab_contract"}
    assert all(Path(path).is_relative_to(asset) for path in imported["modules"].values()), imported["modules"]
    assert f"lambda_functions.{folder}.handler" in imported["modules"]
    assert not list(asset.rglob("__pycache__"))


def imports_beyond_the_standard_library(path: Path, *, module_level_only: bool = False) -> set[str]:
    """The absolute imports of a module that are not of the standard library (deferred ones too, unless asked)."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in tree.body if module_level_only else ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.split(".")[0] not in sys.stdlib_module_names | {"__future__"}}


@pytest.mark.parametrize("folder", ENVIRONMENTS)
def test_a_function_imports_only_the_contract_its_own_package_and_what_lambda_provides(folder: str) -> None:
    """Not the stacks, the tools, the Spark job or another function: none of them is in its asset."""
    libraries = {"lab_contract", "aws_lambda_powertools", "botocore", "boto3"}
    for path in sorted((ROOT / "lambda_functions" / folder).rglob("*.py")):
        for module in imports_beyond_the_standard_library(path):
            own = module == f"lambda_functions.{folder}" or module.startswith(f"lambda_functions.{folder}.")
            assert own or module.split(".")[0] in libraries, (path.name, module)


def test_the_contract_imports_only_itself_and_the_standard_library() -> None:
    """The stacks and tools import it without boto3: only aws.py's functions, which only the functions call, import
    botocore and boto3, inside themselves."""
    for path in sorted((ROOT / "lab_contract").rglob("*.py")):
        at_all = {module.split(".")[0] for module in imports_beyond_the_standard_library(path)} - {"lab_contract"}
        assert at_all == ({"boto3", "botocore"} if path.name == "aws.py" else set()), path.name
        module_level = imports_beyond_the_standard_library(path, module_level_only=True)
        assert all(module.split(".")[0] == "lab_contract" for module in module_level), path.name


# ------------------------------------------------------------------------------------------------ the environments
def _deployed(monkeypatch: pytest.MonkeyPatch, environ: dict[str, str]) -> None:
    """The process environment as a deployment with only ``environ`` (and a region) sets it."""
    for name in [name for name in os.environ if name.isupper()]:
        if name not in ("PATH", "HOME"):
            monkeypatch.delenv(name)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-2")


@pytest.mark.parametrize(
    ("folder", "missing"),
    [
        (folder, name)
        for folder, environment in ENVIRONMENTS.items()
        for name in environment.variable_names()
        if name not in ("STANDING_CLUSTER_ID", "WORKSTATION_INSTANCE_ID")  # may be empty: see the environments
    ],
)
def test_a_handler_refuses_to_start_without_a_contract_variable(folder: str, missing: str, monkeypatch) -> None:
    environ = SAMPLE_ENVIRONMENTS[folder].variables()
    del environ[missing]
    _deployed(monkeypatch, environ)
    with (
        pytest.raises(InvalidEnvironment, match=rf"missing environment variable\(s\) {missing};"),
        fresh_handler(folder),
    ):
        pass
    monkeypatch.setenv(missing, "")
    with pytest.raises(InvalidEnvironment, match=missing), fresh_handler(folder):
        pass


@pytest.mark.parametrize("folder", ENVIRONMENTS)
def test_a_handler_starts_with_its_complete_contract(folder: str, monkeypatch) -> None:
    _deployed(monkeypatch, SAMPLE_ENVIRONMENTS[folder].variables())
    with fresh_handler(folder) as handler:
        assert handler.environment() == SAMPLE_ENVIRONMENTS[folder]


@pytest.mark.parametrize("folder", ENVIRONMENTS)
def test_the_variables_round_trip_through_the_environment(folder: str) -> None:
    sample = SAMPLE_ENVIRONMENTS[folder]
    assert type(sample).from_environ(sample.variables()) == sample
    assert type(sample).from_environ({**sample.variables(), "AN_UNRELATED_VARIABLE": "x"}) == sample


def test_variables_that_may_be_empty_take_their_default() -> None:
    submit = SAMPLE_ENVIRONMENTS["submit_job"].variables()
    assert SubmitJobEnvironment.from_environ({**submit, "STANDING_CLUSTER_ID": ""}).standing_cluster_id == ""
    guard = {
        name: value
        for name, value in SAMPLE_ENVIRONMENTS["spend_guard"].variables().items()
        if name != "WORKSTATION_INSTANCE_ID"
    }
    assert SpendGuardEnvironment.from_environ(guard).workstation_instance_id == ""


@pytest.mark.parametrize(
    ("folder", "name", "value", "message"),
    [
        ("submit_job", "CLUSTER_MODE", "forever", "CLUSTER_MODE: not one of transient, standing"),
        ("submit_job", "CLUSTER_MODE", "Transient", "CLUSTER_MODE: not one of"),
        ("submit_job", "JOB_FLOW_TEMPLATE", "[]", "JOB_FLOW_TEMPLATE: not a JSON object"),
        ("submit_job", "JOB_FLOW_TEMPLATE", "{", "JOB_FLOW_TEMPLATE: not JSON"),
        ("submit_job", "JOB_FLOW_TEMPLATE", '{"Name": "x"}', r"JOB_FLOW_TEMPLATE must not set \['Name'\]"),
        ("submit_job", "JOB_FLOW_TEMPLATE", '{"Steps": []}', r"JOB_FLOW_TEMPLATE must not set \['Steps'\]"),
        ("submit_job", "STEP_TEMPLATE", "{}", r"STEP_TEMPLATE needs HadoopJarStep.Args \(a list\)"),
        ("submit_job", "STEP_TEMPLATE", '{"HadoopJarStep": []}', "STEP_TEMPLATE needs HadoopJarStep.Args"),
        ("submit_job", "STEP_TEMPLATE", '{"HadoopJarStep": {"Args": "x"}}', "STEP_TEMPLATE needs HadoopJarStep.Args"),
        ("submit_job", "CLUSTER_SIZING", '{"max_core_nodes": 1}', "CLUSTER_SIZING: needs single_node_max_bytes"),
        ("submit_job", "MAX_JOBS_PER_INVOCATION", "0", "MAX_JOBS_PER_INVOCATION must be at least 1, not 0"),
        ("submit_job", "MAX_JOBS_PER_INVOCATION", "-1", "MAX_JOBS_PER_INVOCATION: not a whole number: '-1'"),
        ("submit_job", "MAX_JOBS_PER_INVOCATION", "1.5", "MAX_JOBS_PER_INVOCATION: not a whole number"),
        ("submit_job", "MAX_JOBS_PER_INVOCATION", "٣", "MAX_JOBS_PER_INVOCATION: not a whole number"),
        ("spend_guard", "MAX_CLUSTER_AGE_HOURS", "eight", "MAX_CLUSTER_AGE_HOURS: not a whole number"),
        ("spend_guard", "MAX_IDLE_MINUTES", "1e3", "MAX_IDLE_MINUTES: not a whole number"),
        ("spend_guard", "WORKING_HOURS", "19:00-07:00", "WORKING_HOURS: working hours '19:00-07:00' must start"),
        ("spend_guard", "WORKING_HOURS", "7-19", "WORKING_HOURS: working hours must look like 07:00-19:00"),
        ("spend_guard", "WORKING_DAYS", "MONDAY", "WORKING_DAYS: working days must be a comma-separated list"),
        ("spend_guard", "WORKING_TIMEZONE", "Mars/Olympus_Mons", "WORKING_TIMEZONE: not an IANA time zone name"),
        ("spend_guard", "WORKING_TIMEZONE", "../../etc/passwd", "WORKING_TIMEZONE: not an IANA time zone name"),
        ("spend_guard", "WORKING_TIMEZONE", "Europe", "WORKING_TIMEZONE: not an IANA time zone name"),
    ],
)
def test_an_unusable_variable_is_refused_by_name(folder: str, name: str, value: str, message: str) -> None:
    environment = ENVIRONMENTS[folder]
    with pytest.raises(InvalidEnvironment, match=message) as refused:
        environment.from_environ({**SAMPLE_ENVIRONMENTS[folder].variables(), name: value})
    assert str(refused.value).startswith(f"{environment.__name__}: ")


def test_every_problem_is_named_at_once() -> None:
    environ = {
        **SAMPLE_ENVIRONMENTS["submit_job"].variables(),
        "CLUSTER_MODE": "standing",
        "MAX_JOBS_PER_INVOCATION": "0",
    }
    del environ["INPUT_BUCKET"]
    with pytest.raises(InvalidEnvironment, match="missing environment variable\\(s\\) INPUT_BUCKET;") as refused:
        SubmitJobEnvironment.from_environ(environ)
    del environ["RESULTS_URI"]
    environ["INPUT_BUCKET"] = "ml-lab-input"
    environ["CLUSTER_SIZING"] = "[]"
    with pytest.raises(InvalidEnvironment) as refused:
        SubmitJobEnvironment.from_environ(environ)
    assert "missing environment variable(s) RESULTS_URI; CLUSTER_SIZING: not a JSON object;" in str(refused.value)
    environ["RESULTS_URI"] = "s3://ml-lab-results/runs"
    environ["CLUSTER_SIZING"] = SAMPLE_ENVIRONMENTS["submit_job"].variables()["CLUSTER_SIZING"]
    with pytest.raises(InvalidEnvironment) as refused:
        SubmitJobEnvironment.from_environ(environ)
    assert "STANDING_CLUSTER_ID is empty in standing mode; MAX_JOBS_PER_INVOCATION must be at least 1" in str(
        refused.value
    )


def test_uris_are_normalised_as_the_functions_join_them() -> None:
    events = EmrEventsEnvironment.from_environ(
        {**SAMPLE_ENVIRONMENTS["emr_events"].variables(), "RESULTS_URI": "s3://r/runs/", "LOG_URI": "s3://l/emr"}
    )
    assert (events.results_uri, events.log_uri) == ("s3://r/runs", "s3://l/emr/")
    submit = SubmitJobEnvironment.from_environ(
        {**SAMPLE_ENVIRONMENTS["submit_job"].variables(), "RESULTS_URI": "s3://r/runs/"}
    )
    assert submit.results_uri == "s3://r/runs"


def test_the_stacks_json_writer_writes_the_json_objects() -> None:
    """The stacks pass Stack.to_json_string (it renders deploy-time tokens); every other type writes itself."""
    written = SAMPLE_ENVIRONMENTS["submit_job"].variables(to_json=lambda value: f"<{sorted(value)}>")
    assert written["JOB_FLOW_TEMPLATE"] == "<['Instances', 'ReleaseLabel']>"
    assert written["STEP_TEMPLATE"] == "<['ActionOnFailure', 'HadoopJarStep']>"
    assert json.loads(written["CLUSTER_SIZING"])["max_core_nodes"] == 3
    assert written["MAX_JOBS_PER_INVOCATION"] == "5"


# ------------------------------------------------------------------------------------------------ the Spark job
def test_the_job_reads_exactly_the_formats_uploads_are_mapped_to() -> None:
    from spark_jobs.als.ratings import FORMATS

    assert set(FORMATS) == set(layout.FORMATS_BY_SUFFIX.values())


def test_the_job_accepts_exactly_the_contract_run_ids() -> None:
    from spark_jobs.als.attempts import RUN_ID_PATTERN

    assert RUN_ID_PATTERN.pattern == names.RUN_ID_PATTERN.pattern
    for date in ("20260101", "20991231"):
        for identity in ("a", "ratings/u.data", "é/x.csv"):
            run_id = names.generated_run_id(date, hashlib.sha256(identity.encode()).hexdigest())
            assert RUN_ID_PATTERN.fullmatch(run_id)
            assert names.GENERATED_RUN_ID.fullmatch(run_id)


def test_the_results_lifecycle_expires_the_folder_the_job_writes_its_attempts_to(lab) -> None:
    from spark_jobs.als.attempts import ATTEMPTS_DIR

    assert ATTEMPTS_DIR == layout.RUN_ATTEMPTS_DIR
    [results] = [
        resource
        for logical_id, resource in lab.template("storage")["Resources"].items()
        if logical_id.startswith("BucketsResults") and resource["Type"] == "AWS::S3::Bucket"
    ]
    rules = results["Properties"]["LifecycleConfiguration"]["Rules"]
    [attempts] = [rule for rule in rules if rule["Id"] == "expire-unfinished-run-attempts"]
    assert attempts["Prefix"] == f"{layout.RESULTS_RUNS_PREFIX}{ATTEMPTS_DIR}/"
    assert attempts["ExpirationInDays"] == 7 and attempts["Status"] == "Enabled"


def test_generated_names_follow_their_documented_formats() -> None:
    run_id = names.generated_run_id("20261129", "0123456789abcdef")
    assert run_id == "20261129-0123456789ab"
    assert names.transient_cluster_name("ml-lab-dev", run_id) == "ml-lab-dev-20261129-0123456789ab"
    assert names.step_name("ml-lab-dev", run_id) == "ml-lab-dev-als-20261129-0123456789ab"
    assert names.standing_cluster_name("ml-lab-dev") == "ml-lab-dev-standing"
    with pytest.raises(ValueError):
        names.generated_run_id("2026-11-29", "0123456789abcdef")


# ------------------------------------------------------------------------------------------------ hours and days
@pytest.mark.parametrize(
    "text", ["7-19", "07:00", "07:00-24:00", "19:00-07:00", "07:00-07:00", "٠٧:٠٠-١٩:٠٠", "07:00-19:00\n", None, 7]
)
def test_working_hours_outside_the_format_are_refused(text: Any) -> None:
    with pytest.raises(ValueError):
        working_hours.parse_working_hours(text)


def test_working_hours_per_day_and_their_text() -> None:
    assert working_hours.parse_working_hours("07:00-19:00").hours_per_day == 12
    hours = working_hours.parse_working_hours("08:30-17:15")
    assert hours.hours_per_day == 8.75 and str(hours) == "08:30-17:15"
    assert hours.includes(hours.start) and not hours.includes(hours.end)


@pytest.mark.parametrize("text", ["", "MON-FRI", "MONDAY", "MON,,XYZ", "mon;tue", None])
def test_working_days_outside_the_list_are_refused(text: Any) -> None:
    with pytest.raises(ValueError):
        working_hours.parse_working_days(text)


def test_working_days_are_weekday_numbers_and_keep_their_order() -> None:
    assert working_hours.parse_working_days("MON,WED,FRI").weekdays == {0, 2, 4}
    weekend = working_hours.parse_working_days("sun, sat")
    assert weekend.weekdays == {5, 6} and str(weekend) == "SUN,SAT"
    with pytest.raises(ValueError):
        working_hours.WorkingDays(("MON", "Tue"))


def test_every_retryable_code_is_retryable_and_a_client_fault_is_not() -> None:
    from botocore.exceptions import ClientError, EndpointConnectionError

    def error(code: str, status: int) -> ClientError:
        return ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")

    assert all(aws.is_retryable(error(code, 400)) for code in aws.RETRYABLE_ERROR_CODES)
    assert aws.is_retryable(error("Whatever", 503))
    assert aws.is_retryable(EndpointConnectionError(endpoint_url="https://emr"))
    assert not aws.is_retryable(error("ValidationException", 400))
    assert not aws.is_retryable(error("AccessDeniedException", 403))
    assert not aws.is_retryable(ValueError("x"))
