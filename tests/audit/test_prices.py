"""The price table in the repo covers every instance type the settings accept, and says where it came from."""

from __future__ import annotations

import json
from pathlib import Path

from stacks.settings import EMR_INSTANCE_TYPES, WORKSTATION_INSTANCE_TYPES, Settings

PRICES = json.loads((Path(__file__).resolve().parents[2] / "tools" / "prices.json").read_text())


def test_every_accepted_instance_type_has_an_ec2_price() -> None:
    missing = set(EMR_INSTANCE_TYPES + WORKSTATION_INSTANCE_TYPES) - set(PRICES["ec2_on_demand_hour"])
    assert not missing, f"add to tools/prices.json: {sorted(missing)}"


def test_every_emr_instance_type_has_an_emr_uplift() -> None:
    emr_types = set(EMR_INSTANCE_TYPES) | set(Settings().emr_task_instance_types)
    assert not emr_types - set(PRICES["emr_uplift_hour"])


def test_prices_are_plausible_hourly_figures() -> None:
    for table in ("ec2_on_demand_hour", "emr_uplift_hour"):
        for instance_type, price in PRICES[table].items():
            assert isinstance(price, (int, float)) and 0 < price < 5, (table, instance_type, price)
    for instance_type, uplift in PRICES["emr_uplift_hour"].items():
        assert uplift < PRICES["ec2_on_demand_hour"][instance_type], instance_type
    for key in ("vpc_interface_endpoint_az_hour", "nat_gateway_hour", "kms_key_month", "ebs_gp3_gb_month"):
        assert 0 < PRICES[key] < 5, key


def test_the_table_says_where_its_figures_come_from_and_that_they_need_rechecking() -> None:
    assert PRICES["region"] == "eu-west-2" and PRICES["currency"] == "USD"
    assert PRICES["as_of"] and PRICES["source"]["price_list_offer_files"]
    assert "re-check" in PRICES["note"].lower()
