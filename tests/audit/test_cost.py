"""The cost acceptance, from the synthesised templates: an idle month of almost nothing, a job of cents, a budget
just above the typical month in each network mode, and README's table generated from the same estimate."""

from __future__ import annotations

import pytest

from lab_contract.sizing import MEGABYTE, shape_for
from stacks.settings import DEFAULT_BUDGET_USD
from tools.audit import cost as audit_cost
from tools.audit import cost_readme
from tools.audit.assembly import load_assembly
from tools.audit.report import cost_section

IDLE_MONTH_LIMIT_USD = 5.0
JOB_100K_LIMIT_USD = 0.10


def estimate_of(app) -> dict:
    return audit_cost.estimate(load_assembly(app.outdir), app.settings, audit_cost.load_prices())


@pytest.fixture(scope="module")
def estimates(lab, synth) -> dict[str, dict]:
    return {"public": estimate_of(lab), "isolated": estimate_of(synth(network_mode="isolated"))}


def types_in(app) -> set[str]:
    return {resource["Type"] for template in app.templates.values() for resource in template["Resources"].values()}


def test_the_default_deployment_has_nothing_that_bills_by_the_hour_while_idle(lab) -> None:
    types = types_in(lab)
    assert "AWS::EC2::NatGateway" not in types and "AWS::EMR::Cluster" not in types
    endpoints = [
        r["Properties"]
        for t in lab.templates.values()
        for r in t["Resources"].values()
        if r["Type"] == "AWS::EC2::VPCEndpoint"
    ]
    assert [e["VpcEndpointType"] for e in endpoints] == ["Gateway"]
    assert "AWS::CloudWatch::Alarm" in types  # the workstation stops itself


def test_an_idle_month_of_the_default_deployment_costs_almost_nothing(estimates) -> None:
    idle = estimates["public"]["months"]["idle"]
    assert idle["usd"] <= IDLE_MONTH_LIMIT_USD, idle
    assert not estimates["public"]["unknown_prices"]


def test_a_100k_rating_job_at_default_sizing_costs_cents_including_provisioning(estimates, lab) -> None:
    job = estimates["public"]["jobs"]["100K"]
    assert job["usd"] <= JOB_100K_LIMIT_USD, job
    assert job["shape"] == "single node"
    assert job["billed_minutes"] >= audit_cost.PROVISIONING_MINUTES + audit_cost.TERMINATION_MINUTES


def test_jobs_are_priced_on_the_shapes_submit_job_chooses(estimates, lab) -> None:
    policy = lab.stacks.compute.spark.sizing
    for label, job in estimates["public"]["jobs"].items():
        shape = shape_for(audit_cost.JOB_SIZES[label] * audit_cost.BYTES_PER_RATING, policy)
        assert job["core_nodes"] == shape.core_nodes, label
    assert estimates["public"]["jobs"]["20M"]["core_nodes"] == lab.settings.emr_core_instance_count


def test_a_lower_single_node_threshold_puts_the_small_job_on_core_nodes(synth) -> None:
    small = estimate_of(synth(emr_single_node_max_mb=1, emr_mb_per_core_node=2, emr_core_instance_count=4))
    job = small["jobs"]["100K"]  # 2.5 MB: above 1 MB, 2 MB per core node -> 2 core nodes
    assert job["core_nodes"] == 2 and job["nodes"] == 3
    assert job["megabytes"] * MEGABYTE == 100_000 * audit_cost.BYTES_PER_RATING


@pytest.mark.parametrize("mode", ["public", "isolated"])
def test_the_default_budget_sits_just_above_the_typical_month(estimates, mode) -> None:
    typical = estimates[mode]["months"]["typical"]["usd"]
    assert estimates[mode]["budget_monthly_usd"] == DEFAULT_BUDGET_USD[mode]
    assert typical < DEFAULT_BUDGET_USD[mode] <= typical * 1.1 + 1, (typical, DEFAULT_BUDGET_USD[mode])
    assert estimates[mode]["over_budget"] is False


def test_isolated_pays_for_its_interface_endpoints_and_public_for_addresses_while_running(estimates) -> None:
    prices = audit_cost.load_prices()
    isolated = {item["what"]: item for item in estimates["isolated"]["standing"]}
    assert isolated["VPC interface endpoint-AZs"]["monthly"] == round(
        5 * prices["vpc_interface_endpoint_az_hour"] * 730, 2
    )
    assert "VPC interface endpoint-AZs" not in {item["what"] for item in estimates["public"]["standing"]}
    public_node = next(i for i in estimates["public"]["items"] if "EMR primary" in i["what"])
    isolated_node = next(i for i in estimates["isolated"]["items"] if "EMR primary" in i["what"])
    assert round(public_node["hourly"] - isolated_node["hourly"], 4) == prices["public_ipv4_hour"]


def test_every_month_is_the_sum_of_its_parts_and_the_worst_case_bounds_the_rest(estimates) -> None:
    for estimate in estimates.values():
        months = estimate["months"]
        for month in months.values():
            assert month["usd"] == round(sum(part["usd"] for part in month["parts"]), 2)
        assert months["idle"]["usd"] < months["typical"]["usd"] < months["worst"]["usd"]


def test_readme_cost_table_is_the_generated_one(estimates) -> None:
    readme = cost_readme.README.read_text()
    assert cost_readme.current_block(readme) == cost_readme.block(estimates, DEFAULT_BUDGET_USD), (
        "README.md's cost table is stale: run .venv/bin/python -m tools.audit.cost_readme --write"
    )


def test_the_report_states_the_three_months_and_the_three_jobs(estimates) -> None:
    markdown = "\n".join(cost_section(estimates["public"]))
    for label in ("| idle |", "| typical |", "| worst |", "| 100K |", "| 1M |", "| 20M |"):
        assert label in markdown, label
    assert "not verified" in markdown or "verified against" in markdown


def test_the_readme_command_rewrites_a_stale_table_and_then_passes_its_check(estimates, tmp_path, monkeypatch) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# lab\n\n{cost_readme.BEGIN}\n| stale | 1 | 2 |\n{cost_readme.END}\n\nafter\n")
    monkeypatch.setattr(cost_readme, "README", readme)
    monkeypatch.setattr(cost_readme, "estimates_by_synthesis", lambda: estimates)
    assert cost_readme.main(["--check"]) == 1
    assert cost_readme.main(["--write"]) == 0
    assert cost_readme.main([]) == 0
    text = readme.read_text()
    assert text.startswith("# lab\n\n") and text.endswith("\n\nafter\n") and "| stale |" not in text
