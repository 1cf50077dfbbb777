"""The runtime contract (stacks/contract.py) holds on every side: the templates, the functions' assets, the
handlers at cold start, and the Spark job, which ships as one file and keeps pinned copies of two facts."""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

from stacks import contract
from stacks.contract import EmrEventsEnvironment, SpendGuardEnvironment, SubmitJobEnvironment

ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENTS = {
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


@pytest.mark.parametrize("cluster_mode", contract.CLUSTER_MODES)
def test_each_function_gets_exactly_its_contract_variables(synth, cluster_mode: str) -> None:
    functions = functions_of(synth(cluster_mode=cluster_mode).template("automation"))
    assert set(functions) == set(ENVIRONMENTS)
    for folder, environment in ENVIRONMENTS.items():
        variables = functions[folder]["Properties"]["Environment"]["Variables"]
        assert set(variables) == set(environment.variable_names()) | POWERTOOLS_VARIABLES, folder


def test_submit_job_is_told_the_cluster_mode_it_was_synthesised_for(synth) -> None:
    for cluster_mode in contract.CLUSTER_MODES:
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
    assert sorted(f["suffix"] for f in filters) == sorted(contract.RATINGS_SUFFIXES)
    assert {f["prefix"] for f in filters} == {contract.RATINGS_PREFIX}


def test_every_function_asset_carries_the_contract_at_its_import_path(lab) -> None:
    assets = [
        path for path in lab.outdir.iterdir() if path.name.startswith("asset.") and (path / "handler.py").exists()
    ]
    assert len(assets) == len(ENVIRONMENTS)
    source = (ROOT / "stacks" / "contract.py").read_bytes()
    for asset in assets:
        assert (asset / "stacks" / "contract.py").read_bytes() == source, asset.name
        assert not list(asset.rglob("__pycache__")), asset.name


def _load_handler(folder: str, environ: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    for name in [name for name in list(__import__("os").environ) if name.isupper()]:
        if name not in ("PATH", "HOME"):
            monkeypatch.delenv(name)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-2")
    monkeypatch.syspath_prepend(str(ROOT / "lambda_functions" / folder))
    spec = importlib.util.spec_from_file_location(
        f"contract_test_{folder}", ROOT / "lambda_functions" / folder / "handler.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _complete_environment(environment: type[contract.FunctionEnvironment]) -> dict[str, str]:
    return dict.fromkeys(environment.variable_names(), "x")


@pytest.mark.parametrize(
    ("folder", "missing"),
    [
        (folder, name)
        for folder, environment in ENVIRONMENTS.items()
        for name in environment.variable_names()
        if name not in ("STANDING_CLUSTER_ID", "WORKSTATION_INSTANCE_ID")  # may be empty: see the contract
    ],
)
def test_a_handler_refuses_to_start_without_a_contract_variable(folder: str, missing: str, monkeypatch) -> None:
    environ = _complete_environment(ENVIRONMENTS[folder])
    del environ[missing]
    with pytest.raises(contract.MissingEnvironment, match=rf"missing environment variable\(s\) {missing};"):
        _load_handler(folder, environ, monkeypatch)
    environ[missing] = ""
    with pytest.raises(contract.MissingEnvironment, match=missing):
        _load_handler(folder, environ, monkeypatch)


@pytest.mark.parametrize("folder", ENVIRONMENTS)
def test_a_handler_starts_with_its_complete_contract(folder: str, monkeypatch) -> None:
    assert callable(_load_handler(folder, _complete_environment(ENVIRONMENTS[folder]), monkeypatch).lambda_handler)


def test_the_variables_round_trip_through_the_environment() -> None:
    values = {name.lower(): f"value of {name}" for name in SpendGuardEnvironment.variable_names()}
    environment = SpendGuardEnvironment(**values)
    assert SpendGuardEnvironment.from_variables(environment.variables()) == environment
    assert (
        SubmitJobEnvironment.from_variables(
            {**_complete_environment(SubmitJobEnvironment), "STANDING_CLUSTER_ID": ""}
        ).standing_cluster_id
        == ""
    )


# ------------------------------------------------------------------------------------------------ the Spark job
def test_the_job_reads_exactly_the_formats_uploads_are_mapped_to() -> None:
    from spark_jobs.als.ratings import FORMATS

    assert set(FORMATS) == set(contract.FORMATS_BY_SUFFIX.values())


def test_the_job_accepts_exactly_the_contract_run_ids() -> None:
    from spark_jobs.als.attempts import RUN_ID_PATTERN

    assert RUN_ID_PATTERN.pattern == contract.RUN_ID_PATTERN.pattern
    for date in ("20260101", "20991231"):
        for identity in ("a", "ratings/u.data", "é/x.csv"):
            run_id = contract.generated_run_id(date, hashlib.sha256(identity.encode()).hexdigest())
            assert RUN_ID_PATTERN.fullmatch(run_id)
            assert contract.GENERATED_RUN_ID.fullmatch(run_id)


def test_the_results_lifecycle_expires_the_folder_the_job_writes_its_attempts_to(lab) -> None:
    from spark_jobs.als.attempts import ATTEMPTS_DIR

    assert ATTEMPTS_DIR == contract.RUN_ATTEMPTS_DIR
    [results] = [
        resource
        for logical_id, resource in lab.template("storage")["Resources"].items()
        if logical_id.startswith("BucketsResults") and resource["Type"] == "AWS::S3::Bucket"
    ]
    rules = results["Properties"]["LifecycleConfiguration"]["Rules"]
    [attempts] = [rule for rule in rules if rule["Id"] == "expire-unfinished-run-attempts"]
    assert attempts["Prefix"] == f"{contract.RESULTS_RUNS_PREFIX}{ATTEMPTS_DIR}/"
    assert attempts["ExpirationInDays"] == 7 and attempts["Status"] == "Enabled"


def test_generated_names_follow_their_documented_formats() -> None:
    run_id = contract.generated_run_id("20261129", "0123456789abcdef")
    assert run_id == "20261129-0123456789ab"
    assert contract.transient_cluster_name("ml-lab-dev", run_id) == "ml-lab-dev-20261129-0123456789ab"
    assert contract.step_name("ml-lab-dev", run_id) == "ml-lab-dev-als-20261129-0123456789ab"
    assert contract.standing_cluster_name("ml-lab-dev") == "ml-lab-dev-standing"
    with pytest.raises(ValueError):
        contract.generated_run_id("2026-11-29", "0123456789abcdef")


# ------------------------------------------------------------------------------------------------ hours and days
@pytest.mark.parametrize(
    "text", ["7-19", "07:00", "07:00-24:00", "19:00-07:00", "07:00-07:00", "٠٧:٠٠-١٩:٠٠", "07:00-19:00\n", None, 7]
)
def test_working_hours_outside_the_format_are_refused(text: Any) -> None:
    with pytest.raises(ValueError):
        contract.parse_working_hours(text)


def test_working_hours_per_day() -> None:
    assert contract.working_hours_per_day("07:00-19:00") == 12
    assert contract.working_hours_per_day("08:30-17:15") == 8.75


@pytest.mark.parametrize("text", ["", "MON-FRI", "MONDAY", "MON,,XYZ", "mon;tue", None])
def test_working_days_outside_the_list_are_refused(text: Any) -> None:
    with pytest.raises(ValueError):
        contract.parse_working_days(text)


def test_working_days_are_weekday_numbers() -> None:
    assert contract.parse_working_days("MON,WED,FRI") == {0, 2, 4}
    assert contract.parse_working_days("sun, sat") == {5, 6}


def test_every_retryable_code_is_retryable_and_a_client_fault_is_not() -> None:
    from botocore.exceptions import ClientError, EndpointConnectionError

    def error(code: str, status: int) -> ClientError:
        return ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")

    assert all(contract.is_retryable(error(code, 400)) for code in contract.RETRYABLE_ERROR_CODES)
    assert contract.is_retryable(error("Whatever", 503))
    assert contract.is_retryable(EndpointConnectionError(endpoint_url="https://emr"))
    assert not contract.is_retryable(error("ValidationException", 400))
    assert not contract.is_retryable(error("AccessDeniedException", 403))
    assert not contract.is_retryable(ValueError("x"))


def test_the_contract_imports_nothing_beyond_the_standard_library() -> None:
    """The CDK app imports it without boto3; only is_retryable (run in Lambda) imports botocore, inside itself."""
    tree = ast.parse((ROOT / "stacks" / "contract.py").read_text())
    top_level = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in tree.body
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert top_level <= set(sys.stdlib_module_names) | {"__future__"}
