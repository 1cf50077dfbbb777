"""The price table covers every instance type the settings accept, says where it came from and how sure it is, and
tools/prices/rebuild.py rebuilds it from AWS Price List offer files (here: small files in the offer format)."""

from __future__ import annotations

import csv
import datetime
import gzip
import json
from pathlib import Path

import pytest

from stacks.emr_release import EMR_RELEASES
from stacks.settings import EMR_INSTANCE_TYPES, WORKSTATION_INSTANCE_TYPES, Settings
from tools.prices import rebuild

PRICES = json.loads((Path(__file__).resolve().parents[2] / "tools" / "prices.json").read_text())
ALL_EMR_TYPES = set(EMR_INSTANCE_TYPES) | set(Settings().emr_task_instance_types)


def test_every_accepted_instance_type_has_an_ec2_price() -> None:
    missing = (set(EMR_INSTANCE_TYPES) | set(WORKSTATION_INSTANCE_TYPES) | ALL_EMR_TYPES) - set(
        PRICES["ec2_on_demand_hour"]
    )
    assert not missing, f"add to tools/prices.json: {sorted(missing)}"


def test_every_emr_instance_type_has_an_emr_uplift() -> None:
    assert not ALL_EMR_TYPES - set(PRICES["emr_uplift_hour"])


def moto_resource(*parts: str) -> object:
    """Data moto ships, captured from the AWS APIs (ListSupportedInstanceTypes, DescribeInstanceTypeOfferings)."""
    import moto

    path = Path(moto.__file__).parent.joinpath(*parts)
    return json.loads(gzip.decompress(path.read_bytes()))


@pytest.mark.parametrize("release", sorted(EMR_RELEASES))
def test_every_emr_instance_type_is_supported_by_every_allowed_emr_release(release: str) -> None:
    supported = set(moto_resource("emr", "resources", f"instance-types-emr-{release.removeprefix('emr-')}.json.gz"))
    assert not ALL_EMR_TYPES - supported, release


def test_every_accepted_instance_type_is_offered_in_the_default_region() -> None:
    region = Settings().region
    offered = {
        o["InstanceType"]
        for o in moto_resource("ec2", "resources", "instance_type_offerings", "region", f"{region}.json.gz")
    }  # type: ignore[union-attr]
    assert not (ALL_EMR_TYPES | set(WORKSTATION_INSTANCE_TYPES)) - offered


def test_prices_are_plausible_hourly_figures() -> None:
    for table in ("ec2_on_demand_hour", "emr_uplift_hour"):
        for instance_type, price in PRICES[table].items():
            assert isinstance(price, (int, float)) and 0 < price < 5, (table, instance_type, price)
    for instance_type, uplift in PRICES["emr_uplift_hour"].items():
        assert uplift < PRICES["ec2_on_demand_hour"][instance_type], instance_type
    for key in (
        "vpc_interface_endpoint_az_hour",
        "nat_gateway_hour",
        "kms_key_month",
        "ebs_gp3_gb_month",
        "public_ipv4_hour",
        "cloudwatch_alarm_month",
    ):
        assert 0 < PRICES[key] < 5, key


def test_the_table_says_when_where_from_and_how_sure() -> None:
    assert PRICES["region"] == "eu-west-2" and PRICES["currency"] == "USD"
    assert datetime.date.fromisoformat(PRICES["as_of"]) <= datetime.date.today()
    assert isinstance(PRICES["verified"], bool)
    if not PRICES["verified"]:
        assert "NOT re-verified" in PRICES["note"] and "tools.prices.rebuild" in PRICES["note"]
    offers = {url.split("/aws/")[1].split("/")[0] for url in PRICES["source"]["price_list_offer_files"]}
    assert offers == {figure.offer for figure in rebuild.figures(PRICES["region"])}


# ------------------------------------------------------------------------------------------- rebuild
HEADER = [
    "SKU",
    "OfferTermCode",
    "RateCode",
    "TermType",
    "PriceDescription",
    "Unit",
    "PricePerUnit",
    "Currency",
    "Instance Type",
    "usageType",
    "operation",
    "CapacityStatus",
    "Pre Installed S/W",
    "Region Code",
    "Software Type",
]


def offer_row(usage: str, unit: str, price: float, **fields: str) -> dict[str, str]:
    row = {"TermType": "OnDemand", "Unit": unit, "PricePerUnit": f"{price:.10f}", "Currency": "USD"}
    row.update(usageType=usage, operation="RunInstances", CapacityStatus="Used", **{"Region Code": "eu-west-2"})
    row.update({"Pre Installed S/W": "NA", "Software Type": "EMR"})
    return {**row, **fields}


def write_offers(directory: Path, table: dict, *, drop: str | None = None, duplicate: str | None = None) -> None:
    """Offer CSVs holding ``table``'s figures among rows the rebuild must not pick."""
    rows: dict[str, list[dict[str, str]]] = {}
    for figure in rebuild.figures("eu-west-2"):
        value = table[figure.table][figure.key] if figure.table else table[figure.key]
        if figure.usage_type == drop:
            continue
        right = offer_row(figure.usage_type, figure.unit, value)
        wrong = [
            {**right, "TermType": "Reserved", "PricePerUnit": "0.001"},
            {**right, "operation": "RunInstances:0002", "PricePerUnit": "9"},  # Windows
            {**right, "CapacityStatus": "UnusedCapacityReservation", "PricePerUnit": "8"},
            {**right, "Pre Installed S/W": "SQL Std", "PricePerUnit": "7"},
            {**right, "Region Code": "eu-west-1", "PricePerUnit": "6"},
            {**right, "Unit": "Quantity", "PricePerUnit": "5"},
            {**right, "PricePerUnit": "0.0000000000"},  # a free-tier row
        ]
        if figure.table != "ec2_on_demand_hour":  # operating system, reservations, software: EC2 instances only
            wrong = [
                w for w in wrong if all(w[k] == right[k] for k in ("operation", "CapacityStatus", "Pre Installed S/W"))
            ]
        if figure.usage_type == duplicate:
            wrong.append({**right, "PricePerUnit": f"{value * 2:.10f}"})
        rows.setdefault(figure.offer, []).extend([*wrong, right])
    for offer, offer_rows in rows.items():
        with (directory / f"{offer}.csv").open("w", newline="") as stream:
            writer = csv.writer(stream, quoting=csv.QUOTE_ALL)
            writer.writerows([["FormatVersion", "v1.0"], ["Publication Date", "2026-11-20T10:00:00Z"]])
            writer.writerows([["OfferCode", offer], HEADER])
            writer.writerows([[row.get(column, "") for column in HEADER] for row in offer_rows])


def test_rebuild_picks_each_figures_one_on_demand_linux_row(tmp_path: Path) -> None:
    write_offers(tmp_path, PRICES)
    output = tmp_path / "prices.json"
    assert rebuild.main(["--offers-dir", str(tmp_path), "--output", str(output)]) == 0
    rebuilt = json.loads(output.read_text())
    for key in ("ec2_on_demand_hour", "emr_uplift_hour"):
        assert rebuilt[key] == {k: v for k, v in PRICES[key].items() if k in rebuilt[key]}
        assert set(rebuilt[key]) >= ALL_EMR_TYPES
    for figure in rebuild.figures("eu-west-2"):
        if figure.table is None:
            assert rebuilt[figure.key] == PRICES[figure.key], figure.key
    assert rebuilt["as_of"] == "2026-11-20" and rebuilt["verified"] is True
    assert len(rebuilt["source"]["price_list_offer_files"]) == 5


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        ({"drop": "EUW2-BoxUsage:m7g.xlarge"}, "AmazonEC2 EUW2-BoxUsage:m7g.xlarge (Hrs): no row"),
        ({"duplicate": "EUW2-PublicIPv4:InUseAddress"}, "AmazonVPC EUW2-PublicIPv4:InUseAddress (Hrs): [0.005, 0.01]"),
    ],
)
def test_rebuild_refuses_to_guess_a_missing_or_ambiguous_price(tmp_path, capsys, damage, named) -> None:
    write_offers(tmp_path, PRICES, **damage)
    output = tmp_path / "prices.json"
    assert rebuild.main(["--offers-dir", str(tmp_path), "--output", str(output)]) == 1
    assert named in capsys.readouterr().err and not output.exists()


def test_readme_says_when_the_prices_were_verified_and_how_to_verify_them() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    (said,) = [line for line in readme.splitlines() if line.startswith("Prices: `tools/prices.json`")]
    assert PRICES["as_of"] in said and "python -m tools.prices.rebuild" in said and "cost_readme --write" in said
    assert ("never verified" in said) is not PRICES["verified"]
