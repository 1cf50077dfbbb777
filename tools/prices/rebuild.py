"""Rebuilds tools/prices.json from the AWS Price List bulk offer files (CSV), for a maintainer with internet access.

    python -m tools.prices.rebuild                       # download the region's offer files, write tools/prices.json
    python -m tools.prices.rebuild --offers-dir DIR      # read DIR/<OfferCode>.csv instead (offline, tests)

The offer files need no AWS credentials. Each is read as a stream, row by row (the EC2 one is large), and each
figure is the one on-demand row that matches its usage type (``EUW2-BoxUsage:m7g.xlarge`` ...): zero or several
distinct prices for a figure stop the rebuild, naming it, rather than guess. Every instance type any setting
accepts is priced (stacks/settings.py). ``as_of`` becomes the oldest publication date of the offer files read,
and ``verified`` true. Everything else in the project reads the committed file.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stacks.settings import EMR_INSTANCE_TYPES, WORKSTATION_INSTANCE_TYPES, Settings
from tools.audit.cost import PRICES_FILE

OFFER_URL = "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/{offer}/current/{region}/index.csv"
# Usage types carry a region prefix (the Price List's own codes).
USAGE_PREFIX = {
    "eu-west-1": "EU",
    "eu-west-2": "EUW2",
    "eu-west-3": "EUW3",
    "eu-central-1": "EUC1",
    "eu-central-2": "EUC2",
    "eu-north-1": "EUN1",
    "eu-south-1": "EUS1",
    "eu-south-2": "EUS2",
}
REGION_NAMES = {"eu-west-2": "Europe (London)", "eu-west-1": "Europe (Ireland)"}


@dataclass(frozen=True)
class Figure:
    """One price in prices.json: where it lives (``table`` or a flat key) and the offer rows it comes from."""

    offer: str
    usage_type: str
    unit: str
    key: str
    table: str | None = None
    row_filter: Callable[[dict[str, str]], bool] = lambda row: True


def _linux_shared(row: dict[str, str]) -> bool:
    """Linux, no pre-installed software, capacity used (not a reservation's)."""
    return (
        row.get("operation") == "RunInstances"
        and row.get("Pre Installed S/W", "NA") in ("NA", "")
        and row.get("CapacityStatus", "Used") in ("Used", "")
    )


def _emr_software(row: dict[str, str]) -> bool:
    return row.get("Software Type", "EMR") in ("EMR", "")


def figures(region: str) -> list[Figure]:
    prefix = USAGE_PREFIX[region]
    ec2_types = sorted(
        set(EMR_INSTANCE_TYPES) | set(WORKSTATION_INSTANCE_TYPES) | set(Settings().emr_task_instance_types)
    )
    found = [
        Figure("AmazonEC2", f"{prefix}-BoxUsage:{t}", "Hrs", t, "ec2_on_demand_hour", _linux_shared) for t in ec2_types
    ]
    found += [
        Figure("ElasticMapReduce", f"{prefix}-BoxUsage:{t}", "Hrs", t, "emr_uplift_hour", _emr_software)
        for t in sorted(EMR_INSTANCE_TYPES)
    ]
    found += [
        Figure("AmazonEC2", f"{prefix}-EBS:VolumeUsage.gp3", "GB-Mo", "ebs_gp3_gb_month"),
        Figure("AmazonEC2", f"{prefix}-NatGateway-Hours", "Hrs", "nat_gateway_hour"),
        Figure("AmazonVPC", f"{prefix}-VpcEndpoint-Hours", "Hrs", "vpc_interface_endpoint_az_hour"),
        Figure("AmazonVPC", f"{prefix}-PublicIPv4:InUseAddress", "Hrs", "public_ipv4_hour"),
        Figure("awskms", f"{prefix}-KMS-Keys", "Keys", "kms_key_month"),
        Figure("AmazonCloudWatch", f"{prefix}-CW:AlarmMonitorUsage", "Alarms", "cloudwatch_alarm_month"),
    ]
    return found


def read_offer(lines: Iterable[str]) -> tuple[dict[str, str], Iterator[dict[str, str]]]:
    """An offer CSV: its metadata lines (FormatVersion, Publication Date, ...), then its rows as dicts."""
    reader = csv.reader(lines)
    metadata: dict[str, str] = {}
    for row in reader:
        if row and row[0] == "SKU":
            header = row
            break
        if len(row) >= 2:
            metadata[row[0]] = row[1]
    else:
        raise ValueError("not a Price List offer file: no header row starting with SKU")
    return metadata, (dict(zip(header, row, strict=False)) for row in reader)


def select(rows: Iterable[dict[str, str]], wanted: list[Figure], region: str) -> dict[Figure, set[float]]:
    """The on-demand USD prices of each figure's rows (a set: several identical rows are one price)."""
    by_usage: dict[str, list[Figure]] = {}
    for figure in wanted:
        by_usage.setdefault(figure.usage_type, []).append(figure)
    prices: dict[Figure, set[float]] = {figure: set() for figure in wanted}
    for row in rows:
        candidates = by_usage.get(row.get("usageType", ""))
        if not candidates or row.get("TermType") != "OnDemand" or row.get("Currency") != "USD":
            continue
        if row.get("Region Code", region) not in (region, ""):
            continue
        for figure in candidates:
            if row.get("Unit") == figure.unit and figure.row_filter(row):
                price = float(row["PricePerUnit"])
                if price > 0:  # free tiers and first-N-free rows have a zero price
                    prices[figure].add(price)
    return prices


def rebuild(region: str, open_offer: Callable[[str], Iterable[str]]) -> dict[str, Any]:
    wanted = figures(region)
    table: dict[str, Any] = {
        "region": region,
        "region_name": REGION_NAMES.get(region, region),
        "currency": "USD",
        "ec2_on_demand_hour": {},
        "emr_uplift_hour": {},
        "hours_per_month": 730,
    }
    problems, dates, urls = [], [], []
    for offer in sorted({figure.offer for figure in wanted}):
        metadata, rows = read_offer(open_offer(offer))
        dates.append(metadata.get("Publication Date", "")[:10])
        urls.append(OFFER_URL.format(offer=offer, region=region))
        of_offer = [figure for figure in wanted if figure.offer == offer]
        for figure, found in select(rows, of_offer, region).items():
            if len(found) != 1:
                problems.append(f"{figure.offer} {figure.usage_type} ({figure.unit}): {sorted(found) or 'no row'}")
                continue
            value = found.pop()
            if figure.table:
                table[figure.table][figure.key] = value
            else:
                table[figure.key] = value
    if problems:
        raise ValueError("no single on-demand price for:\n  " + "\n  ".join(problems))
    table.update(
        as_of=min(date for date in dates if date) if any(dates) else None,
        verified=True,
        note=(
            "Rebuilt by tools/prices/rebuild.py from the AWS Price List bulk offer files below (on-demand, USD, Linux, "
            "shared tenancy); as_of is the oldest publication date among them. Usage-based charges (S3, data "
            "processing, Lambda, DynamoDB, SQS, CloudWatch logs) are not in this table."
        ),
        source={"price_list_offer_files": urls},
    )
    return table


def _download(region: str) -> Callable[[str], Iterable[str]]:
    def open_offer(offer: str) -> Iterable[str]:
        url = OFFER_URL.format(offer=offer, region=region)
        print(f"reading {url}", file=sys.stderr)
        response = urllib.request.urlopen(url, timeout=600)  # noqa: S310 (a fixed https URL)
        return io.TextIOWrapper(response, encoding="utf-8")

    return open_offer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--region", default=Settings().region, choices=sorted(USAGE_PREFIX))
    parser.add_argument("--offers-dir", type=Path, help="read <dir>/<OfferCode>.csv instead of downloading")
    parser.add_argument("--output", type=Path, default=PRICES_FILE)
    args = parser.parse_args(argv)
    opener = (
        (lambda offer: (args.offers_dir / f"{offer}.csv").open(encoding="utf-8"))
        if args.offers_dir
        else _download(args.region)
    )
    try:
        table = rebuild(args.region, opener)
    except (OSError, ValueError) as error:
        print(f"prices: {error}", file=sys.stderr)
        return 1
    args.output.write_text(json.dumps(table, indent=2) + "\n")
    print(f"wrote {args.output} (as of {table['as_of']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
