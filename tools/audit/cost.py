"""Hourly cost of each default compute resource and the worst-case monthly spend, from tools/prices.json.

Everything is an estimate from a price table kept in the repo (see its ``as_of`` and ``note``); the report
shows every formula so a reviewer can redo the arithmetic.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stacks.contract import working_hours_per_day
from tools.audit.assembly import CloudAssembly, as_list, render

PRICES_FILE = Path(__file__).resolve().parents[1] / "prices.json"


def load_prices(path: Path = PRICES_FILE) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def _money(value: float) -> float:
    return round(value, 2)


def estimate(assembly: CloudAssembly, settings: Any, prices: dict[str, Any]) -> dict[str, Any]:
    ec2, uplift = prices["ec2_on_demand_hour"], prices["emr_uplift_hour"]
    month = float(prices.get("hours_per_month", 730))
    weeks_per_month = month / (24 * 7)
    working_days = len(settings.working_days) * weeks_per_month
    hours_per_day = working_hours_per_day(settings.working_hours)
    guard_lag_h = settings.spend_guard_rate_minutes / 60
    items: list[dict[str, Any]] = []
    unknown: list[str] = []
    assumptions = [
        f"{month:g} hours a month; {weeks_per_month:.3f} weeks a month, so {working_days:.1f} working days "
        f"({', '.join(settings.working_days)}).",
        "On-demand Linux prices from tools/prices.json (region "
        f"{prices.get('region')}, as of {prices.get('as_of')}); re-check them before relying on the figures.",
        f"The spend guard runs every {settings.spend_guard_rate_minutes} min, so it acts up to "
        f"{guard_lag_h:.2f} h late.",
        "Not included: usage-based charges (S3, data processed by endpoints, Lambda, DynamoDB, SQS, CloudWatch, "
        "EMR node EBS volumes), taxes, free tier.",
    ]

    def price_of(instance_type: str) -> float | None:
        if instance_type not in ec2:
            unknown.append(instance_type)
            return None
        return ec2[instance_type]

    # ---- EC2 instances declared in the templates (the workstation)
    for stack in assembly.stacks:
        for logical_id, resource in stack.of_type("AWS::EC2::Instance"):
            properties = resource.get("Properties") or {}
            instance_type = render(properties.get("InstanceType", "?"))
            hourly = price_of(instance_type)
            volume_gb = sum(
                float(mapping["Ebs"].get("VolumeSize", 0) or 0)
                for mapping in as_list(properties.get("BlockDeviceMappings"))
                if isinstance(mapping, dict)
                and isinstance(mapping.get("Ebs"), dict)
                and isinstance(mapping["Ebs"].get("VolumeSize"), (int, float))
            )
            hours = hours_per_day * working_days + guard_lag_h * working_days
            volume_month = volume_gb * prices["ebs_gp3_gb_month"]
            items.append(
                {
                    "what": f"EC2 instance {instance_type}",
                    "stack": stack.stack_name,
                    "path": stack.path_of(logical_id),
                    "hourly": hourly,
                    "worst_case_hours_month": round(hours, 1),
                    "monthly_worst_case": None if hourly is None else _money(hourly * hours + volume_month),
                    "formula": (
                        f"{hourly} USD/h x ({hours_per_day:g} h/day + {guard_lag_h:.2f} h guard lag) x {working_days:.1f} "
                        f"working days"
                        + (
                            f" + {volume_gb:g} GiB gp3 x {prices['ebs_gp3_gb_month']} USD/GB-month"
                            if volume_gb
                            else " (root volume size not in template: from the AMI)"
                        )
                    ),
                    "assumption": "stopped outside working hours by the spend guard; worst case runs every working hour",
                }
            )

    # ---- EMR: standing clusters declared in templates, else the transient cluster the settings describe
    clusters = []
    for stack in assembly.stacks:
        for logical_id, resource in stack.of_type("AWS::EMR::Cluster"):
            instances = (resource.get("Properties") or {}).get("Instances") or {}
            groups = []
            for key, role in (("MasterInstanceGroup", "primary"), ("CoreInstanceGroup", "core")):
                group = instances.get(key)
                if group:
                    groups.append((role, render(group.get("InstanceType")), int(group.get("InstanceCount", 1))))
            for key, role in (("MasterInstanceFleet", "primary"), ("CoreInstanceFleet", "core")):
                fleet = instances.get(key)
                if fleet:
                    configs = as_list(fleet.get("InstanceTypeConfigs"))
                    capacity = int(fleet.get("TargetOnDemandCapacity", 0) or 0) + int(
                        fleet.get("TargetSpotCapacity", 0) or 0
                    )
                    if configs:
                        weight = int(configs[0].get("WeightedCapacity", 1) or 1)
                        groups.append((role, render(configs[0].get("InstanceType")), -(-capacity // weight)))
            idle = ((resource.get("Properties") or {}).get("AutoTerminationPolicy") or {}).get("IdleTimeout")
            ending = (
                f"a standing cluster terminates itself after {int(idle) // 60} min idle (AutoTerminationPolicy)"
                if isinstance(idle, (int, float))
                else "a standing cluster has NO AutoTerminationPolicy"
            )
            clusters.append(
                (
                    f"standing EMR cluster ({stack.path_of(logical_id)})",
                    stack.stack_name,
                    stack.path_of(logical_id),
                    groups,
                    ending,
                    None,
                )
            )
    if not clusters:
        groups = [
            ("primary", settings.emr_primary_instance_type, 1),
            ("core", settings.emr_core_instance_type, settings.emr_core_instance_count),
        ]
        if settings.emr_task_spot_instance_count:
            groups.append(
                (
                    "task (spot, priced on-demand as an upper bound)",
                    settings.emr_task_instance_types[0],
                    settings.emr_task_spot_instance_count,
                )
            )
        clusters.append(
            (
                f"transient EMR cluster (settings, cluster_mode={settings.cluster_mode})",
                "-",
                "launched per job by submit_job",
                groups,
                f"a transient cluster ends with its step, or after {settings.emr_idle_timeout_minutes} min idle",
                settings.emr_idle_timeout_minutes,
            )
        )
    max_age = settings.emr_max_cluster_age_hours
    for what, stack_name, path, groups, ending, idle_minutes in clusters:
        hourly, parts, priced = 0.0, [], True
        for role, instance_type, count in groups:
            base = price_of(instance_type)
            extra = uplift.get(instance_type)
            if extra is None and instance_type not in unknown:
                unknown.append(f"{instance_type} (EMR uplift)")
            if base is None or extra is None:
                priced = False
                parts.append(f"{count} x {role} {instance_type} (NO PRICE)")
                continue
            hourly += count * (base + extra)
            parts.append(f"{count} x {role} {instance_type} ({base} + {extra} EMR)")
        if not priced:
            items.append(
                {
                    "what": what,
                    "stack": stack_name,
                    "path": path,
                    "hourly": None,
                    "monthly_worst_case": None,
                    "worst_case_hours_month": None,
                    "formula": " + ".join(parts),
                    "assumption": "not priced: add the missing instance types to tools/prices.json",
                }
            )
            continue
        per_cluster = hourly * (max_age + guard_lag_h)
        items.append(
            {
                "what": what,
                "stack": stack_name,
                "path": path,
                "hourly": round(hourly, 4),
                "formula": " + ".join(parts) + f" = {hourly:.3f} USD/h",
                "idle_tail": _money(hourly * idle_minutes / 60) if idle_minutes else None,
                "worst_case_one_cluster": _money(per_cluster),
                "worst_case_hours_month": round((max_age + guard_lag_h) * working_days, 1),
                "monthly_worst_case": _money(per_cluster * working_days),
                "assumption": (
                    ending
                    + (f" (adds {_money(hourly * idle_minutes / 60)} USD per job)" if idle_minutes else "")
                    + "; the spend guard "
                    f"terminates any cluster older than {max_age} h, so one forgotten cluster costs at most "
                    f"{hourly:.3f} x ({max_age} + {guard_lag_h:.2f}) = USD {_money(per_cluster)}; worst month: one "
                    f"forgotten cluster every working day"
                ),
            }
        )

    # ---- always-on network and key charges
    endpoint_az_hours = 0
    for stack in assembly.stacks:
        for _, resource in stack.of_type("AWS::EC2::VPCEndpoint"):
            properties = resource.get("Properties") or {}
            if properties.get("VpcEndpointType") != "Interface":
                continue
            azs = len(as_list(properties.get("SubnetIds"))) or 1
            endpoint_az_hours += azs
    if endpoint_az_hours:
        hourly = endpoint_az_hours * prices["vpc_interface_endpoint_az_hour"]
        items.append(
            {
                "what": "VPC interface endpoints",
                "stack": "all stacks",
                "path": f"{endpoint_az_hours} endpoint-AZ(s)",
                "hourly": round(hourly, 4),
                "worst_case_hours_month": month,
                "monthly_worst_case": _money(hourly * month),
                "formula": f"{endpoint_az_hours} endpoint-AZs x {prices['vpc_interface_endpoint_az_hour']} USD/h x {month:g} h",
                "assumption": "always on while deployed",
            }
        )
    nat = sum(1 for stack in assembly.stacks for _ in stack.of_type("AWS::EC2::NatGateway"))
    if nat:
        hourly = nat * prices["nat_gateway_hour"]
        items.append(
            {
                "what": "NAT gateways",
                "stack": "all stacks",
                "path": f"{nat} NAT gateway(s)",
                "hourly": hourly,
                "worst_case_hours_month": month,
                "monthly_worst_case": _money(hourly * month),
                "formula": f"{nat} x {prices['nat_gateway_hour']} USD/h x {month:g} h",
                "assumption": "always on",
            }
        )
    keys = sum(1 for stack in assembly.stacks for _ in stack.of_type("AWS::KMS::Key"))
    if keys:
        items.append(
            {
                "what": "KMS customer-managed keys",
                "stack": "all stacks",
                "path": f"{keys} key(s)",
                "hourly": round(keys * prices["kms_key_month"] / month, 5),
                "worst_case_hours_month": month,
                "monthly_worst_case": _money(keys * prices["kms_key_month"]),
                "formula": f"{keys} x {prices['kms_key_month']} USD/key-month (plus requests)",
                "assumption": "always on",
            }
        )
    total = sum(item["monthly_worst_case"] or 0 for item in items)
    return {
        "prices_as_of": prices.get("as_of"),
        "region": prices.get("region"),
        "items": items,
        "monthly_worst_case_total": _money(total),
        "budget_monthly_usd": settings.budget_monthly_usd,
        "over_budget": total > settings.budget_monthly_usd,
        "unknown_prices": sorted(set(unknown)),
        "nat_comparison_month_per_az": _money(prices["nat_gateway_hour"] * month),
        "assumptions": assumptions,
    }
