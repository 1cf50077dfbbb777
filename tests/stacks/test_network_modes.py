"""Network modes and the workstation: what each mode exposes and costs, what the workstation installs from, and
that it stops itself when unused. ``lab`` is the default (dev: public); ``isolated`` is the prod default."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest

from stacks.app_builder import build_app, wheelhouse_target
from stacks.settings import Settings, SettingsError
from tools.wheelhouse import placeholder

VPC_CIDR = ipaddress.ip_network("10.42.0.0/16")
MODES = ("public", "isolated")


def resources(template: dict, kind: str) -> dict[str, dict]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def one(template: dict, kind: str) -> tuple[str, dict[str, Any]]:
    [(logical_id, resource)] = resources(template, kind).items()
    return logical_id, resource


@pytest.fixture(scope="module")
def by_mode(synth) -> dict[str, Any]:
    return {mode: synth(network_mode=mode) for mode in MODES}


def test_the_stage_chooses_the_network_mode(lab, synth) -> None:
    assert lab.settings.network_mode == "public"
    assert synth(stage="prod", budget_email="ops@example.com").settings.network_mode == "isolated"


def test_public_mode_routes_to_an_internet_gateway_without_nat_or_interface_endpoints(by_mode) -> None:
    template = by_mode["public"].template("compute")
    one(template, "AWS::EC2::InternetGateway")
    one(template, "AWS::EC2::VPCGatewayAttachment")
    for kind in ("AWS::EC2::NatGateway", "AWS::EC2::EIP"):
        assert not resources(template, kind), kind
    endpoints = [e["Properties"] for e in resources(template, "AWS::EC2::VPCEndpoint").values()]
    assert [e["VpcEndpointType"] for e in endpoints] == ["Gateway"] and "s3" in json.dumps(endpoints[0])
    subnets = resources(template, "AWS::EC2::Subnet").values()
    assert subnets and all(subnet["Properties"]["MapPublicIpOnLaunch"] is True for subnet in subnets)
    default_routes = [r["Properties"] for r in resources(template, "AWS::EC2::Route").values()]
    assert len(default_routes) == len(subnets)
    assert all(r["DestinationCidrBlock"] == "0.0.0.0/0" and "GatewayId" in r for r in default_routes)


def test_isolated_mode_has_no_route_out_and_its_interface_endpoints_in_one_az(by_mode) -> None:
    template = by_mode["isolated"].template("compute")
    for kind in ("AWS::EC2::NatGateway", "AWS::EC2::InternetGateway", "AWS::EC2::EIP", "AWS::EC2::Route"):
        assert not resources(template, kind), kind
    for subnet in resources(template, "AWS::EC2::Subnet").values():
        assert subnet["Properties"]["MapPublicIpOnLaunch"] is False
    endpoints = [e["Properties"] for e in resources(template, "AWS::EC2::VPCEndpoint").values()]
    kinds = sorted(e.get("VpcEndpointType", "Gateway") for e in endpoints)
    assert kinds == ["Gateway"] + ["Interface"] * 5
    assert all(len(e["SubnetIds"]) == 1 for e in endpoints if e["VpcEndpointType"] == "Interface")
    _, instance = one(template, "AWS::EC2::Instance")
    assert [i["AssociatePublicIpAddress"] for i in instance["Properties"]["NetworkInterfaces"]] == [False]


def ingress_sources(template: dict) -> list[tuple[str, dict]]:
    rules = [
        (name, rule)
        for name, group in resources(template, "AWS::EC2::SecurityGroup").items()
        for rule in group["Properties"].get("SecurityGroupIngress", [])
    ]
    return rules + [
        (name, r["Properties"]) for name, r in resources(template, "AWS::EC2::SecurityGroupIngress").items()
    ]


@pytest.mark.parametrize("mode", MODES)
def test_no_security_group_admits_anything_from_outside_the_vpc(by_mode, mode: str) -> None:
    checked = 0
    for template in by_mode[mode].templates.values():
        for name, rule in ingress_sources(template):
            checked += 1
            if "CidrIp" in rule:
                assert ipaddress.ip_network(rule["CidrIp"]).subnet_of(VPC_CIDR), (name, rule)
            else:
                assert "SourceSecurityGroupId" in rule and "CidrIpv6" not in rule, (name, rule)
    assert checked  # the EMR groups admit each other


@pytest.mark.parametrize(("mode", "groups"), [("public", 2), ("isolated", 3)])
def test_emr_security_groups_are_tagged_and_service_access_only_in_private_subnets(by_mode, mode, groups) -> None:
    app = by_mode[mode]
    emr_groups = {k: g for k, g in resources(app.template("compute"), "AWS::EC2::SecurityGroup").items() if "Emr" in k}
    assert len(emr_groups) == groups
    for group in emr_groups.values():
        assert {"Key": "for-use-with-amazon-emr-managed-policies", "Value": "true"} in group["Properties"]["Tags"]
    instances = app.stacks.compute.spark.job_flow_template["Instances"]
    assert ("ServiceAccessSecurityGroup" in instances) is (mode == "isolated")


# ------------------------------------------------------------------------------------------- first boot
def dependencies(template: dict, logical_id: str) -> set[str]:
    depends = template["Resources"][logical_id].get("DependsOn", [])
    return set(depends if isinstance(depends, list) else [depends])


def subnet_of(instance: dict) -> str:
    properties = instance["Properties"]
    subnet = properties.get("SubnetId") or properties["NetworkInterfaces"][0]["SubnetId"]
    return subnet["Ref"]


def user_data(template: dict) -> str:
    _, instance = one(template, "AWS::EC2::Instance")
    return json.dumps(instance["Properties"]["UserData"])


def test_public_workstation_cannot_boot_before_its_subnets_internet_route(by_mode) -> None:
    template = by_mode["public"].template("compute")
    instance_id, instance = one(template, "AWS::EC2::Instance")
    subnet = subnet_of(instance)
    [table] = [
        a["Properties"]["RouteTableId"]["Ref"]
        for a in resources(template, "AWS::EC2::SubnetRouteTableAssociation").values()
        if a["Properties"]["SubnetId"] == {"Ref": subnet}
    ]
    [route] = [
        k
        for k, r in resources(template, "AWS::EC2::Route").items()
        if r["Properties"]["RouteTableId"] == {"Ref": table}
    ]
    assert route in dependencies(template, instance_id)
    attachment, _ = one(template, "AWS::EC2::VPCGatewayAttachment")
    assert attachment in dependencies(template, route)  # the route exists only once the gateway is attached
    data = user_data(template)
    assert "pip3 install --no-cache-dir --retries 10 'pyspark==3.5.6' 'numpy<2.1'" in data
    assert "wheelhouse" not in data


def test_isolated_workstation_cannot_boot_before_the_s3_endpoint_and_installs_from_the_wheelhouse_asset(
    by_mode,
) -> None:
    app = by_mode["isolated"]
    template = app.template("compute")
    instance_id, instance = one(template, "AWS::EC2::Instance")
    [(endpoint, properties)] = [
        (k, e["Properties"])
        for k, e in resources(template, "AWS::EC2::VPCEndpoint").items()
        if e["Properties"]["VpcEndpointType"] == "Gateway"
    ]
    assert endpoint in dependencies(template, instance_id)
    subnet = subnet_of(instance)
    tables = {
        json.dumps(a["Properties"]["RouteTableId"])
        for a in resources(template, "AWS::EC2::SubnetRouteTableAssociation").values()
        if a["Properties"]["SubnetId"] == {"Ref": subnet}
    }
    assert tables <= {json.dumps(t) for t in properties["RouteTableIds"]}  # its subnet reaches S3 through it
    data = user_data(template)
    asset = app.stacks.compute.workstation.wheelhouse
    assert asset is not None and asset.s3_object_key.endswith(".zip")
    assert (
        "/opt/ml-lab/wheelhouse.zip" in data and "pip3 install --no-index --find-links /opt/ml-lab/wheelhouse" in data
    )
    # the asset is a file asset of the cloud assembly: `cdk deploy` publishes it before it touches the stack
    manifest = json.loads(next(app.outdir.glob("*Compute*.assets.json")).read_text())
    sources = [f["source"]["path"] for f in manifest["files"].values() if f["source"].get("packaging") == "zip"]
    assert any((app.outdir / path / "manifest.json").exists() for path in sources), sources


def test_setup_runs_again_at_the_next_boot_until_it_has_succeeded(lab) -> None:
    data = user_data(lab.template("compute"))
    assert "ConditionPathExists=!/opt/ml-lab/ready" in data and "systemctl enable ml-lab-setup.service" in data
    assert "touch /opt/ml-lab/ready" in data
    assert data.index("touch /opt/ml-lab/ready") > data.index("pip3 install")  # ready only after the install


# One other synthesis covers an x86 workstation and a longer idle time (each synthesis costs seconds).
X86_LONG_IDLE = {"workstation_instance_type": "t3.large", "workstation_idle_stop_minutes": 240}


@pytest.mark.parametrize(("overrides", "architecture"), [({}, "arm64"), (X86_LONG_IDLE, "x8664")], ids=str)
def test_workstation_image_follows_the_instance_types_architecture(synth, overrides, architecture) -> None:
    app = synth(**overrides)
    _, instance = one(app.template("compute"), "AWS::EC2::Instance")
    assert instance["Properties"]["InstanceType"] == app.settings.workstation_instance_type
    parameter = instance["Properties"]["ImageId"]["Ref"]
    assert parameter.startswith("SsmParameterValueawsserviceamiamazonlinuxlatestal2023") and architecture in parameter


def test_root_volume_is_the_images_own_size(lab) -> None:
    _, instance = one(lab.template("compute"), "AWS::EC2::Instance")
    assert instance["Properties"]["BlockDeviceMappings"][0]["Ebs"]["VolumeSize"] == 8


# ------------------------------------------------------------------------------------------- idle stop
@pytest.mark.parametrize(("overrides", "periods"), [({}, 6), (X86_LONG_IDLE, 48)], ids=str)
def test_an_alarm_stops_the_workstation_after_the_idle_minutes_without_a_lambda(synth, overrides, periods) -> None:
    template = synth(**overrides).template("compute")
    instance_id, _ = one(template, "AWS::EC2::Instance")
    _, alarm = one(template, "AWS::CloudWatch::Alarm")
    props = alarm["Properties"]
    assert props["AlarmActions"] == ["arn:aws:automate:eu-west-2:ec2:stop"]
    assert props["Namespace"] == "AWS/EC2" and props["MetricName"] == "CPUUtilization"
    assert props["Dimensions"] == [{"Name": "InstanceId", "Value": {"Ref": instance_id}}]
    assert props["Period"] == 300 and props["EvaluationPeriods"] == props["DatapointsToAlarm"] == periods
    assert props["ComparisonOperator"] == "LessThanThreshold" and props["Statistic"] == "Maximum"
    # a stopped instance sends no data: the alarm returns to OK, so the next idle spell stops it again
    assert props["TreatMissingData"] == "notBreaching"
    assert not resources(template, "AWS::Lambda::Function")


def test_the_spend_guard_still_stops_the_workstation_out_of_hours(lab) -> None:
    automation = lab.template("automation")
    guard = next(
        f
        for f in resources(automation, "AWS::Lambda::Function").values()
        if f["Properties"]["Environment"]["Variables"].get("POWERTOOLS_SERVICE_NAME") == "spend_guard"
    )
    assert "WORKSTATION_INSTANCE_ID" in guard["Properties"]["Environment"]["Variables"]


# ------------------------------------------------------------------------------------------- synth refuses
def build(tmp_path: Path, cdk_context: dict, **overrides: Any) -> None:
    from aws_cdk import App

    app = App(context={**cdk_context, **overrides}, outdir=str(tmp_path / "cdk.out"))
    build_app(app, Settings.from_context(app.node.try_get_context), nag=False)


def test_isolated_synth_without_a_wheelhouse_names_the_key_and_the_step(tmp_path, cdk_context) -> None:
    with pytest.raises(SettingsError, match=r"'network_mode': 'isolated' .* run `make wheelhouse` first"):
        build(tmp_path, cdk_context, network_mode="isolated", workstation_wheelhouse_dir=str(tmp_path / "none"))


@pytest.mark.parametrize(
    ("field", "value"), [("pyspark", "3.5.5"), ("architecture", "x86_64"), ("python", "3.11")], ids=str
)
def test_isolated_synth_refuses_a_wheelhouse_built_for_other_settings(tmp_path, cdk_context, field, value) -> None:
    settings = Settings.from_context({**cdk_context, "network_mode": "isolated"}.get)
    stale = placeholder(tmp_path / "stale", {**wheelhouse_target(settings), field: value})
    with pytest.raises(SettingsError, match=rf"built for .*{field}={value}.* run `make wheelhouse` again"):
        build(tmp_path, cdk_context, network_mode="isolated", workstation_wheelhouse_dir=str(stale))


def test_public_synth_needs_no_wheelhouse(tmp_path, cdk_context) -> None:
    build(tmp_path, cdk_context, network_mode="public", workstation_wheelhouse_dir=str(tmp_path / "none"))
