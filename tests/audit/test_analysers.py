"""The report's analysers (IAM, network, encryption, cost, diagram) on a small hand-written assembly: no CDK, fast."""

from __future__ import annotations

from pathlib import Path

from stacks.settings import Settings
from tools.audit import cost as audit_cost
from tools.audit import diagram as audit_diagram
from tools.audit import encryption as audit_encryption
from tools.audit import iam as audit_iam
from tools.audit import network as audit_network
from tools.audit.assembly import CloudAssembly, StackTemplate


def _path(path: str) -> dict:
    return {"aws:cdk:path": path}


EXPORTER = {
    "Resources": {
        "Data": {"Type": "AWS::S3::Bucket", "Metadata": _path("Store/Data/Resource"), "Properties": {}},
    },
    "Outputs": {"DataArn": {"Value": {"Fn::GetAtt": ["Data", "Arn"]}, "Export": {"Name": "store-data-arn"}}},
}
TEMPLATE = {
    "Resources": {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        "Igw": {"Type": "AWS::EC2::InternetGateway"},
        "Subnet": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "MapPublicIpOnLaunch": True}},
        "Sg": {
            "Type": "AWS::EC2::SecurityGroup",
            "Metadata": _path("App/Sg/Resource"),
            "Properties": {
                "VpcId": {"Ref": "Vpc"},
                "SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "0.0.0.0/0"}],
            },
        },
        "SgIn": {
            "Type": "AWS::EC2::SecurityGroupIngress",
            "Properties": {
                "GroupId": {"Fn::GetAtt": ["Sg", "GroupId"]},
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "SourceSecurityGroupId": {"Fn::GetAtt": ["Sg", "GroupId"]},
            },
        },
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"SqsManagedSseEnabled": False}},
        "Role": {
            "Type": "AWS::IAM::Role",
            "Metadata": _path("App/Role/Resource"),
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "sts:AssumeRole",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                        }
                    ]
                },
                "ManagedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"],
                "Policies": [
                    {
                        "PolicyName": "inline",
                        "PolicyDocument": {
                            "Statement": [
                                {"Effect": "Allow", "Action": "s3:*", "Resource": {"Fn::ImportValue": "store-data-arn"}}
                            ]
                        },
                    }
                ],
            },
        },
        "Policy": {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "Roles": [{"Ref": "Role"}],
                "PolicyDocument": {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["sqs:SendMessage"],
                            "Resource": {"Fn::GetAtt": ["Queue", "Arn"]},
                        },
                        {"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"},
                    ]
                },
            },
        },
        "Fn": {
            "Type": "AWS::Lambda::Function",
            "Metadata": _path("App/Fn/Resource"),
            "Properties": {"Role": {"Fn::GetAtt": ["Role", "Arn"]}, "VpcConfig": {"SubnetIds": [{"Ref": "Subnet"}]}},
        },
        "Host": {
            "Type": "AWS::EC2::Instance",
            "Properties": {
                "InstanceType": "t3.large",
                "SubnetId": {"Ref": "Subnet"},
                "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 30, "Encrypted": False}}],
            },
        },
        "Endpoint": {
            "Type": "AWS::EC2::VPCEndpoint",
            "Properties": {"VpcEndpointType": "Interface", "SubnetIds": [{"Ref": "Subnet"}, "subnet-2"]},
        },
    }
}


def assembly() -> CloudAssembly:
    return CloudAssembly(
        Path("."),
        [
            StackTemplate("Store", "store", Path("Store.template.json"), EXPORTER),
            StackTemplate("App", "app", Path("App.template.json"), TEMPLATE),
        ],
    )


def test_iam_statements_are_attributed_to_roles_and_wide_grants_flagged() -> None:
    (role,) = audit_iam.roles(assembly())
    assert role["path"] == "App/Role/Resource" and role["trusted"] == ["Service:lambda.amazonaws.com"]
    assert role["managed_policy_arns"] == ["arn:aws:iam::aws:policy/AdministratorAccess"] and role["wide"]
    flags = {tuple(s["actions"]): s["flags"] for s in role["statements"]}
    assert flags[("s3:*",)] == ["action s3:*"]
    assert flags[("sqs:SendMessage",)] == []
    assert flags[("ec2:DescribeInstances",)] == ["resource *"]
    assert next(s["resources"] for s in role["statements"]) == ["import:store-data-arn"]


def test_network_exposure_lists_ingress_and_public_paths() -> None:
    exposure = audit_network.exposure(assembly())
    rules = {(r["ports"], r["source"], r["from_internet"]) for r in exposure["ingress"]}
    assert rules == {("tcp 22", "CidrIp=0.0.0.0/0", True), ("tcp 443", "SourceSecurityGroupId=${Sg.GroupId}", False)}
    what = sorted(item["what"] for item in exposure["public"])
    assert "internet gateway" in what and "subnet maps public IPs on launch" in what
    assert any(w.startswith("bucket public access block off") for w in what)  # Store/Data declares no block


def test_encryption_flags_unencrypted_queue_and_volume() -> None:
    rows = {row["resource"]: row for row in audit_encryption.stores(assembly())}
    assert rows["Queue"]["at_rest"].startswith("NOT encrypted") and not rows["Queue"]["ok"]
    assert "NOT encrypted" in rows["Host"]["at_rest"] and not rows["Host"]["ok"]
    assert rows["Data"]["in_transit"] == "not enforced by a resource policy" and not rows["Data"]["ok"]


def test_cost_uses_template_instances_settings_cluster_and_endpoint_azs() -> None:
    prices = audit_cost.load_prices()
    cost = audit_cost.estimate(assembly(), Settings(), prices)
    items = {item["what"]: item for item in cost["items"]}
    host = items["EC2 instance t3.large (workstation)"]
    # the template's subnet maps public IPs, so the instance pays for one while it runs
    assert host["hourly"] == round(prices["ec2_on_demand_hour"]["t3.large"] + prices["public_ipv4_hour"], 4)
    node = prices["ec2_on_demand_hour"]["m7g.xlarge"] + prices["emr_uplift_hour"]["m7g.xlarge"]
    assert items["EMR primary node m7g.xlarge"]["hourly"] == round(node + prices["public_ipv4_hour"], 4)
    standing = {item["what"]: item for item in cost["standing"]}
    endpoints = standing["VPC interface endpoint-AZs"]  # one endpoint in two subnets: two endpoint-AZs
    assert endpoints["monthly"] == round(2 * prices["vpc_interface_endpoint_az_hour"] * 730, 2)
    volume = next(item for what, item in standing.items() if what.startswith("EBS gp3"))
    assert volume["monthly"] == round(30 * prices["ebs_gp3_gb_month"], 2)
    months = cost["months"]
    assert months["idle"]["usd"] == round(endpoints["monthly"] + volume["monthly"], 2)
    for month in months.values():
        assert month["usd"] == round(sum(part["usd"] for part in month["parts"]), 2)
    assert months["idle"]["usd"] < months["typical"]["usd"] < months["worst"]["usd"]


def test_diagram_draws_grants_the_way_data_flows_and_places_nodes_in_their_vpc() -> None:
    diagram = audit_diagram.mermaid(assembly())
    assert diagram.startswith("flowchart LR")
    assert 'subgraph Store["Store stack: store"]' in diagram and 'subgraph App["App stack: app"]' in diagram
    assert 'App_Fn -->|"writes"| App_Queue' in diagram  # sqs:SendMessage: from the function to the queue
    assert 'App_Fn <-->|"reads, writes"| Store_Data' in diagram  # s3:* on a bucket imported from another stack
    vpc = diagram.split('subgraph App_Vpc["Vpc: VPC"]')[1].split("end")[0]
    assert "App_Fn[[" in vpc and "App_Host[/" in vpc  # placed through their subnet


def test_an_instance_type_without_price_is_named_not_guessed() -> None:
    prices = audit_cost.load_prices()
    prices = {
        **prices,
        "ec2_on_demand_hour": {k: v for k, v in prices["ec2_on_demand_hour"].items() if k != "m7g.xlarge"},
    }
    cost = audit_cost.estimate(assembly(), Settings(), prices)
    assert "m7g.xlarge" in cost["unknown_prices"]
    assert "None EC2" in next(item for item in cost["items"] if "EMR primary" in item["what"])["formula"]


def test_report_cells_escape_markdown_html_and_maths() -> None:
    from tools.audit.report import _code, _text, table

    assert _text("a|b *c* <x> $1 and $2 snake_case") == "a\\|b \\*c\\* &lt;x&gt; \\$1 and \\$2 snake\\_case"
    assert _code(["s3:*", "arn:a|b"]) == "`s3:*`<br>`arn:a\\|b`"
    assert table(["A"], []) == ["_none_", ""]
