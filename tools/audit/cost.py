"""What the deployment costs, from the synthesised templates, the settings and tools/prices.json.

Three months (idle: deployed and unused; typical: ``TYPICAL_MONTH``; worst case: everything the guards allow) and
one job at 100K, 1M and 20M ratings, each with its formula so a reviewer can redo the arithmetic. The clusters are
the shapes submit_job chooses (the same ``lab_contract.sizing``), timed with the job model measured by
``bench/sizing_bench.py``. README's cost section is rendered from these figures (``tools/audit/cost_readme.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab_contract.sizing import MEGABYTE, ClusterShape, shape_for
from lab_contract.working_hours import parse_working_hours
from tools.audit.assembly import CloudAssembly, StackTemplate, as_list, render

PRICES_FILE = Path(__file__).resolve().parents[1] / "prices.json"

# ---- the job model (assumptions, stated in the report)
# From RunJobFlow until the step starts: EC2 launch, EMR bootstrap, YARN up. Not measurable offline; EMR's own
# guidance is "several minutes", and every node is billed for it. 8 minutes is a conservative middle.
PROVISIONING_MINUTES = 8
# From the step's end until the instances are gone (still billed).
TERMINATION_MINUTES = 1
# bench/sizing_bench.py, 2026-11-29: job seconds = 32 + 2.2 x MB with Spark local[2] on 2 shared vCPUs (load 5-8),
# for one node; N core nodes are assumed N times as fast (optimistic), each node only as fast as those 2 vCPUs
# (pessimistic: an m7g.xlarge has 4).
STEP_FIXED_SECONDS = 32.0
STEP_SECONDS_PER_MB = 2.2
# MovieLens-format text: 22.5-24.9 bytes a rating in the benchmark's u.data files, ~26.7 in MovieLens 20M's CSV.
BYTES_PER_RATING = 25
JOB_SIZES = {"100K": 100_000, "1M": 1_000_000, "20M": 20_000_000}
TYPICAL_MONTH = {"jobs": 20, "ratings": 100_000, "workstation_hours": 40}


def load_prices(path: Path = PRICES_FILE) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def _money(value: float) -> float:
    return round(value, 2)


@dataclass
class PriceBook:
    """Prices by name; a missing one is recorded (never guessed) and counts as 0 in the totals it is part of."""

    prices: dict[str, Any]
    unknown: set[str] = field(default_factory=set)

    def flat(self, key: str) -> float:
        value = self.prices.get(key)
        if not isinstance(value, (int, float)):
            self.unknown.add(key)
            return 0.0
        return float(value)

    def instance(self, instance_type: str, *, emr: bool = False) -> float | None:
        """On-demand USD/hour of an instance (plus EMR's uplift for a cluster node); None when not priced."""
        ec2 = self.prices.get("ec2_on_demand_hour", {}).get(instance_type)
        uplift = self.prices.get("emr_uplift_hour", {}).get(instance_type) if emr else 0.0
        if ec2 is None:
            self.unknown.add(instance_type)
        if uplift is None:
            self.unknown.add(f"{instance_type} (EMR uplift)")
        return None if ec2 is None or uplift is None else float(ec2) + float(uplift)


@dataclass(frozen=True)
class Workstation:
    instance_type: str
    volume_gb: float
    public_ipv4: bool
    path: str
    stack: str


def _public_subnets(stack: StackTemplate) -> set[str]:
    return {
        logical_id
        for logical_id, subnet in stack.of_type("AWS::EC2::Subnet")
        if (subnet.get("Properties") or {}).get("MapPublicIpOnLaunch") is True
    }


def _workstations(assembly: CloudAssembly) -> list[Workstation]:
    found = []
    for stack in assembly.stacks:
        public = _public_subnets(stack)
        for logical_id, resource in stack.of_type("AWS::EC2::Instance"):
            properties = resource.get("Properties") or {}
            subnet = properties.get("SubnetId")
            interfaces = as_list(properties.get("NetworkInterfaces"))
            has_ip = any(isinstance(i, dict) and i.get("AssociatePublicIpAddress") is True for i in interfaces) or (
                isinstance(subnet, dict) and subnet.get("Ref") in public
            )
            volume = sum(
                float(mapping["Ebs"]["VolumeSize"])
                for mapping in as_list(properties.get("BlockDeviceMappings"))
                if isinstance(mapping, dict) and isinstance((mapping.get("Ebs") or {}).get("VolumeSize"), (int, float))
            )
            found.append(
                Workstation(
                    render(properties.get("InstanceType", "?")),
                    volume,
                    has_ip,
                    stack.path_of(logical_id),
                    stack.stack_name,
                )
            )
    return found


class CostModel:
    """The figures of one deployment: its templates, its settings, one price table."""

    def __init__(self, assembly: CloudAssembly, settings: Any, prices: dict[str, Any]) -> None:
        self.assembly, self.settings, self.book = assembly, settings, PriceBook(prices)
        self.hours_per_month = float(prices.get("hours_per_month", 730))
        self.working_days = len(settings.working_days) * self.hours_per_month / (24 * 7)
        self.guard_lag_hours = settings.spend_guard_rate_minutes / 60
        self.public_ipv4 = self.book.flat("public_ipv4_hour")
        self.public_network = any(_public_subnets(stack) for stack in assembly.stacks)
        self.network_mode = "public" if self.public_network else "isolated"
        self.standing_clusters = [
            (stack, logical_id) for stack in assembly.stacks for logical_id, _ in stack.of_type("AWS::EMR::Cluster")
        ]
        self.workstations = _workstations(assembly)
        self.policy = settings.sizing_policy

    # ------------------------------------------------------------------ per hour
    def node_hour(self, instance_type: str) -> float:
        """One EMR node: EC2 + EMR uplift, plus its public IPv4 address in the public network mode."""
        price = self.book.instance(instance_type, emr=True) or 0.0
        return price + (self.public_ipv4 if self.public_network else 0.0)

    def cluster_hour(self, core_nodes: int, *, with_tasks: bool = False) -> float:
        s = self.settings
        hourly = self.node_hour(s.emr_primary_instance_type) + core_nodes * self.node_hour(s.emr_core_instance_type)
        if with_tasks and s.emr_task_spot_instance_count:  # priced on demand: the Spot fleet may fall back to it
            hourly += s.emr_task_spot_instance_count * self.node_hour(s.emr_task_instance_types[0])
        return hourly

    def workstation_hour(self, workstation: Workstation) -> float:
        price = self.book.instance(workstation.instance_type) or 0.0
        return price + (self.public_ipv4 if workstation.public_ipv4 else 0.0)

    # ------------------------------------------------------------------ one job
    def job(self, ratings: int) -> dict[str, Any]:
        megabytes = ratings * BYTES_PER_RATING / MEGABYTE
        shape: ClusterShape = shape_for(ratings * BYTES_PER_RATING, self.policy)
        step_minutes = (STEP_FIXED_SECONDS + STEP_SECONDS_PER_MB * megabytes / max(shape.core_nodes, 1)) / 60
        if self.standing_clusters:
            # The standing cluster is already up: a job adds its step, and keeps the cluster from ending for the
            # idle timeout after it.
            hourly = self.cluster_hour(self.settings.emr_core_instance_count, with_tasks=True)
            minutes = step_minutes + self.settings.emr_idle_timeout_minutes
            formula = f"({step_minutes:.1f} min step + {self.settings.emr_idle_timeout_minutes} min idle) on the standing cluster"
            nodes = 1 + self.settings.emr_core_instance_count
        else:
            hourly = self.cluster_hour(shape.core_nodes, with_tasks=not shape.single_node)
            minutes = max(1.0, PROVISIONING_MINUTES + step_minutes + TERMINATION_MINUTES)
            formula = (
                f"({PROVISIONING_MINUTES} provisioning + {step_minutes:.1f} step + {TERMINATION_MINUTES} ending) min"
            )
            nodes = 1 + shape.core_nodes
        usd = hourly * minutes / 60
        return {
            "ratings": ratings,
            "megabytes": round(megabytes, 1),
            "core_nodes": shape.core_nodes,
            "nodes": nodes,
            "shape": "single node" if shape.single_node else f"1 primary + {shape.core_nodes} core",
            "billed_minutes": round(minutes, 1),
            "usd_per_hour": round(hourly, 4),
            "usd": round(usd, 3),
            "formula": f"{formula} x {hourly:.4f} USD/h ({nodes} node(s)) = {usd:.3f} USD",
        }

    # ------------------------------------------------------------------ standing charges
    def standing_items(self) -> list[dict[str, Any]]:
        """What is billed every hour of the month while deployed, used or not."""
        items = []
        month = self.hours_per_month

        def count(*types: str) -> int:
            return sum(1 for stack in self.assembly.stacks for _ in stack.of_type(*types))

        endpoint_azs = sum(
            len(as_list((resource.get("Properties") or {}).get("SubnetIds"))) or 1
            for stack in self.assembly.stacks
            for _, resource in stack.of_type("AWS::EC2::VPCEndpoint")
            if (resource.get("Properties") or {}).get("VpcEndpointType") == "Interface"
        )
        for what, quantity, unit_key, per_hour in (
            ("VPC interface endpoint-AZs", endpoint_azs, "vpc_interface_endpoint_az_hour", True),
            ("NAT gateways", count("AWS::EC2::NatGateway"), "nat_gateway_hour", True),
            ("KMS customer-managed keys", count("AWS::KMS::Key"), "kms_key_month", False),
            ("CloudWatch alarms", count("AWS::CloudWatch::Alarm"), "cloudwatch_alarm_month", False),
        ):
            if not quantity:
                continue
            unit = self.book.flat(unit_key)
            monthly = quantity * unit * (month if per_hour else 1)
            per = f"USD/h x {month:g} h" if per_hour else "USD/month"
            items.append(
                {
                    "what": what,
                    "quantity": quantity,
                    "monthly": _money(monthly),
                    "formula": f"{quantity} x {unit} {per}",
                }
            )
        for workstation in self.workstations:
            if workstation.volume_gb:
                unit = self.book.flat("ebs_gp3_gb_month")
                items.append(
                    {
                        "what": f"EBS gp3 root volume of {workstation.path}",
                        "quantity": workstation.volume_gb,
                        "monthly": _money(workstation.volume_gb * unit),
                        "formula": f"{workstation.volume_gb:g} GB x {unit} USD/GB-month (billed while stopped too)",
                    }
                )
        return items

    def standing_clusters_hour(self) -> float:
        return len(self.standing_clusters) * self.cluster_hour(self.settings.emr_core_instance_count, with_tasks=True)

    # ------------------------------------------------------------------ months
    def months(self) -> dict[str, dict[str, Any]]:
        s = self.settings
        idle_parts = [(item["what"], item["monthly"]) for item in self.standing_items()]
        if self.standing_clusters:
            # Deployed and unused, a standing cluster idles for the idle timeout, then ends itself.
            idle_parts.append(
                (
                    "standing cluster until its idle timeout",
                    _money(self.standing_clusters_hour() * s.emr_idle_timeout_minutes / 60),
                )
            )
        typical_job = self.job(TYPICAL_MONTH["ratings"])
        workstation_hour = sum(self.workstation_hour(w) for w in self.workstations)
        typical_parts = [
            *idle_parts,
            (
                f"{TYPICAL_MONTH['jobs']} jobs of {TYPICAL_MONTH['ratings']:,} ratings",
                _money(TYPICAL_MONTH["jobs"] * typical_job["usd"]),
            ),
            (
                f"{TYPICAL_MONTH['workstation_hours']} workstation hours",
                _money(TYPICAL_MONTH["workstation_hours"] * workstation_hour),
            ),
        ]
        busy_hours = (parse_working_hours(s.working_hours).hours_per_day + self.guard_lag_hours) * self.working_days
        worst_parts = [*idle_parts, ("workstation busy every working hour", _money(busy_hours * workstation_hour))]
        if self.standing_clusters:
            worst_parts.append(
                ("standing cluster never idle", _money(self.standing_clusters_hour() * self.hours_per_month))
            )
        else:
            biggest = self.cluster_hour(s.emr_core_instance_count, with_tasks=True)
            age = s.emr_max_cluster_age_hours + self.guard_lag_hours
            worst_parts.append(
                (
                    f"one largest cluster forgotten every working day, ended by the spend guard after {age:.2f} h",
                    _money(biggest * age * self.working_days),
                )
            )
        return {
            name: {"usd": _money(sum(usd for _, usd in parts)), "parts": [{"what": w, "usd": u} for w, u in parts]}
            for name, parts in (("idle", idle_parts), ("typical", typical_parts), ("worst", worst_parts))
        }

    def hourly_items(self) -> list[dict[str, Any]]:
        """What runs by the hour only while in use: the workstation and each EMR node type."""
        items = []
        for workstation in self.workstations:
            formula = f"{self.book.instance(workstation.instance_type)} EC2" + (
                f" + {self.public_ipv4} public IPv4" if workstation.public_ipv4 else ""
            )
            when = (
                f"while running: stops itself after {self.settings.workstation_idle_stop_minutes} min idle and "
                "outside working hours"
            )
            what = f"EC2 instance {workstation.instance_type} (workstation)"
            items.append(
                _line(f"workstation {workstation.path}", what, self.workstation_hour(workstation), formula, when)
            )
        s = self.settings
        when = "while the standing cluster runs" if self.standing_clusters else "only while a job runs"
        ipv4 = f" + {self.public_ipv4} public IPv4" if self.public_network else ""
        for role, instance_type in (("primary", s.emr_primary_instance_type), ("core", s.emr_core_instance_type)):
            uplift = self.book.prices.get("emr_uplift_hour", {}).get(instance_type)
            formula = f"{self.book.instance(instance_type)} EC2 + {uplift} EMR{ipv4}"
            what = f"EMR {role} node {instance_type}"
            items.append(_line(f"EMR {role} node", what, self.node_hour(instance_type), formula, when))
        return items


def _line(line: str, what: str, hourly: float, formula: str, when: str) -> dict[str, Any]:
    """One priced line of the report: ``line`` names what it prices whatever the type (see changes.cost_change)."""
    return {"line": line, "what": what, "hourly": round(hourly, 4), "formula": formula, "when": when}


def estimate(assembly: CloudAssembly, settings: Any, prices: dict[str, Any]) -> dict[str, Any]:
    model = CostModel(assembly, settings, prices)
    months = model.months()
    jobs = {label: model.job(ratings) for label, ratings in JOB_SIZES.items()}
    items = model.hourly_items()
    standing = model.standing_items()
    s = settings
    assumptions = [
        f"{model.hours_per_month:g} hours a month; {model.working_days:.1f} working days ({', '.join(s.working_days)}).",
        f"Prices from tools/prices.json (region {prices.get('region')}, as of {prices.get('as_of')}, "
        + (
            "verified against the AWS Price List"
            if prices.get("verified")
            else "NOT verified against the AWS Price List"
        )
        + "): on-demand Linux, USD, before tax and free tier.",
        f"A job: {PROVISIONING_MINUTES} min provisioning + the step + {TERMINATION_MINUTES} min ending, every node billed "
        "throughout (EC2 and EMR bill per second, 1-minute minimum).",
        f"Step time: {STEP_FIXED_SECONDS:g} s + {STEP_SECONDS_PER_MB} s per MB per node (bench/sizing_bench.py), "
        f"{BYTES_PER_RATING} bytes a rating; the cluster shape is submit_job's (lab_contract.sizing).",
        f"Typical month: {TYPICAL_MONTH['jobs']} jobs of {TYPICAL_MONTH['ratings']:,} ratings and "
        f"{TYPICAL_MONTH['workstation_hours']} workstation hours.",
        f"Worst case: the workstation kept busy every working hour (its idle alarm never fires; the spend guard, "
        f"running every {s.spend_guard_rate_minutes} min, stops it after hours) and "
        + (
            "the standing cluster never idle."
            if model.standing_clusters
            else f"a largest cluster forgotten every working day until the spend guard ends it ({s.emr_max_cluster_age_hours} h max age)."
        ),
        "Not included: usage-based charges (S3 storage and requests, data transfer and endpoint data processing, "
        "Lambda, DynamoDB, SQS, CloudWatch logs, EMR node EBS volumes), which are small for the lab's data.",
    ]
    return {
        "prices_as_of": prices.get("as_of"),
        "prices_verified": bool(prices.get("verified")),
        "region": prices.get("region"),
        "network_mode": model.network_mode,
        "items": items,
        "standing": standing,
        "jobs": jobs,
        "months": months,
        "typical_month": TYPICAL_MONTH,
        "monthly_worst_case_total": months["worst"]["usd"],
        "budget_monthly_usd": s.budget_monthly_usd,
        "over_budget": months["typical"]["usd"] > s.budget_monthly_usd,
        "unknown_prices": sorted(model.book.unknown),
        "nat_comparison_month_per_az": _money(model.book.flat("nat_gateway_hour") * model.hours_per_month),
        "assumptions": assumptions,
    }
