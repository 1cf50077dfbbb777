"""Compute stack: network, EMR definition and workstation keep the guarantees their docstrings state."""

from __future__ import annotations

import json

from stacks.constructs.spark_cluster import cfn_cluster_properties


def resources(template: dict, kind: str) -> dict[str, dict]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def test_vpc_has_no_nat_no_internet_gateway_and_no_public_subnets(lab) -> None:
    template = lab.template("compute")
    for kind in ("AWS::EC2::NatGateway", "AWS::EC2::InternetGateway", "AWS::EC2::EIP"):
        assert not resources(template, kind), kind
    for subnet in resources(template, "AWS::EC2::Subnet").values():
        assert subnet["Properties"]["MapPublicIpOnLaunch"] is False


def test_s3_gateway_and_interface_endpoints_in_one_az(lab) -> None:
    template = lab.template("compute")
    endpoints = resources(template, "AWS::EC2::VPCEndpoint").values()
    kinds = sorted(e["Properties"].get("VpcEndpointType", "Gateway") for e in endpoints)
    assert kinds.count("Gateway") == 1 and kinds.count("Interface") == 5
    for endpoint in endpoints:
        if endpoint["Properties"].get("VpcEndpointType") == "Interface":
            assert len(endpoint["Properties"]["SubnetIds"]) == 1


def test_flow_logs_capture_all_traffic_to_the_logs_bucket(lab) -> None:
    lab.assertions("compute").has_resource_properties(
        "AWS::EC2::FlowLog", {"TrafficType": "ALL", "LogDestinationType": "s3", "ResourceType": "VPC"}
    )
    flow_log = next(iter(resources(lab.template("compute"), "AWS::EC2::FlowLog").values()))
    assert "ml-lab-dev-logs-bucket-arn" in json.dumps(flow_log["Properties"]["LogDestination"])


def test_no_ingress_from_anywhere(lab) -> None:
    for template in lab.templates.values():
        for name, group in resources(template, "AWS::EC2::SecurityGroup").items():
            for rule in group["Properties"].get("SecurityGroupIngress", []):
                assert rule.get("CidrIp") not in ("0.0.0.0/0",) and rule.get("CidrIpv6") != "::/0", name
        for name, rule in resources(template, "AWS::EC2::SecurityGroupIngress").items():
            assert rule["Properties"].get("CidrIp") != "0.0.0.0/0", name


def test_emr_security_groups_are_tagged_for_the_managed_policy(lab) -> None:
    groups = resources(lab.template("compute"), "AWS::EC2::SecurityGroup")
    emr_groups = {k: g for k, g in groups.items() if k.startswith("NetworkEmr")}
    assert len(emr_groups) == 3
    for group in emr_groups.values():
        assert {"Key": "for-use-with-amazon-emr-managed-policies", "Value": "true"} in group["Properties"]["Tags"]


def security_configuration(app) -> dict:
    config = next(iter(resources(app.template("compute"), "AWS::EMR::SecurityConfiguration").values()))
    return config["Properties"]["SecurityConfiguration"]


def test_security_configuration_encrypts_at_rest_and_requires_imdsv2(lab) -> None:
    config = security_configuration(lab)
    at_rest = config["EncryptionConfiguration"]["AtRestEncryptionConfiguration"]
    assert config["EncryptionConfiguration"]["EnableAtRestEncryption"] is True
    assert at_rest["S3EncryptionConfiguration"] == {"EncryptionMode": "SSE-S3"}
    assert at_rest["LocalDiskEncryptionConfiguration"]["EnableEbsEncryption"] is True
    assert at_rest["LocalDiskEncryptionConfiguration"]["EncryptionKeyProviderType"] == "AwsKms"
    assert config["InstanceMetadataServiceConfiguration"]["MinimumInstanceMetadataServiceVersion"] == 2


def test_in_transit_tls_is_a_setting_with_a_certificate(synth) -> None:
    app = synth(emr_in_transit_encryption=True, emr_tls_certificates_s3_uri="s3://my-certs/emr/certs.zip")
    encryption = security_configuration(app)["EncryptionConfiguration"]
    assert encryption["EnableInTransitEncryption"] is True
    assert encryption["InTransitEncryptionConfiguration"]["TLSCertificateConfiguration"] == {
        "CertificateProviderType": "PEM",
        "S3Object": "s3://my-certs/emr/certs.zip",
    }


def test_transient_mode_declares_no_cluster(lab) -> None:
    assert lab.settings.cluster_mode == "transient"
    assert not resources(lab.template("compute"), "AWS::EMR::Cluster")
    template = lab.stacks.compute.spark.job_flow_template
    assert template["Instances"]["KeepJobFlowAliveWhenNoSteps"] is False
    assert template["Instances"]["TerminationProtected"] is False
    assert template["AutoTerminationPolicy"] == {"IdleTimeout": 3600}
    assert lab.stacks.compute.spark.step_template["ActionOnFailure"] == "TERMINATE_CLUSTER"


def test_standing_cluster_uses_the_shared_definition(synth) -> None:
    app = synth(cluster_mode="standing", emr_task_spot_instance_count=2)
    clusters = resources(app.template("compute"), "AWS::EMR::Cluster")
    assert len(clusters) == 1
    props = next(iter(clusters.values()))["Properties"]
    spark = app.stacks.compute.spark
    expected = json.loads(
        json.dumps(app.stacks.compute.resolve(cfn_cluster_properties(spark.job_flow_template, name="x")))
    )
    expected.pop("Name")
    for key, value in expected.items():
        assert props[key] == value, key
    assert props["Instances"]["KeepJobFlowAliveWhenNoSteps"] is True
    assert props["Instances"]["TerminationProtected"] is False  # dev
    assert props["AutoTerminationPolicy"] == {"IdleTimeout": 3600}
    assert props["LogUri"]["Fn::Join"][1][-1] == "/emr/"
    assert props["SecurityConfiguration"] == {
        "Ref": next(iter(resources(app.template("compute"), "AWS::EMR::SecurityConfiguration")))
    }
    for key in ("EmrManagedMasterSecurityGroup", "EmrManagedSlaveSecurityGroup", "ServiceAccessSecurityGroup"):
        assert "GroupId" in json.dumps(props["Instances"][key])
    assert spark.step_template["ActionOnFailure"] == "CONTINUE"
    task = next(iter(resources(app.template("compute"), "AWS::EMR::InstanceFleetConfig").values()))["Properties"]
    assert task["TargetSpotCapacity"] == 2
    assert task["LaunchSpecifications"]["SpotSpecification"]["AllocationStrategy"] == "price-capacity-optimized"


def test_primary_and_core_on_demand(lab) -> None:
    fleets = {
        f["InstanceFleetType"]: f for f in lab.stacks.compute.spark.job_flow_template["Instances"]["InstanceFleets"]
    }
    assert set(fleets) == {"MASTER", "CORE"}
    assert fleets["MASTER"]["TargetOnDemandCapacity"] == 1 and "TargetSpotCapacity" not in fleets["MASTER"]
    assert fleets["CORE"]["TargetOnDemandCapacity"] == 2 and "TargetSpotCapacity" not in fleets["CORE"]


def policy_statements(template: dict) -> list[tuple[str, dict]]:
    found = []
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::IAM::Policy":
            found += [(name, s) for s in resource["Properties"]["PolicyDocument"]["Statement"]]
        if resource["Type"] == "AWS::IAM::Role":
            for policy in resource["Properties"].get("Policies", []):
                found += [(name, s) for s in policy["PolicyDocument"]["Statement"]]
    return found


def test_no_iam_statement_allows_wildcard_actions(lab) -> None:
    for template in lab.templates.values():
        for name, statement in policy_statements(template):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            for action in actions:
                assert action != "*" and not action.endswith(":*"), (name, action)


def test_pass_role_is_scoped_to_the_instance_role(lab) -> None:
    template = lab.template("compute")
    passes = [(n, s) for n, s in policy_statements(template) if s["Action"] == "iam:PassRole"]
    assert passes
    for _, statement in passes:
        assert statement["Resource"] != "*"
        assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}


def test_node_s3_access_is_confined_to_prefixes(lab) -> None:
    statements = [s for n, s in policy_statements(lab.template("compute")) if n.startswith("SparkInstanceRole")]
    object_grants: dict[str, list[str]] = {}
    for statement in statements:
        resources_ = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for resource in resources_:
            text = json.dumps(resource)
            if "bucket-arn" in text and statement["Action"] != "s3:ListBucket":
                object_grants[text.split('"/', 1)[1].split('"')[0]] = sorted(actions)
    assert object_grants == {
        "ratings/*": ["s3:GetObject"],
        "runs/*": ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
        "checkpoints/*": ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
        "emr/*": ["s3:PutObject"],
    }
    listings = [s for s in statements if s["Action"] == "s3:ListBucket"]
    assert listings and all("s3:prefix" in s["Condition"]["StringLike"] for s in listings)


def test_workstation_imdsv2_encrypted_root_no_public_ip_no_key(lab) -> None:
    template = lab.template("compute")
    instance = next(iter(resources(template, "AWS::EC2::Instance").values()))["Properties"]
    assert "KeyName" not in instance
    device = instance["BlockDeviceMappings"][0]
    assert device["Ebs"]["Encrypted"] is True and device["Ebs"]["VolumeType"] == "gp3"
    launch_template = next(iter(resources(template, "AWS::EC2::LaunchTemplate").values()))["Properties"]
    assert launch_template["LaunchTemplateData"]["MetadataOptions"]["HttpTokens"] == "required"
    interfaces = instance.get("NetworkInterfaces")
    assert interfaces is None or all(not i.get("AssociatePublicIpAddress") for i in interfaces)
    group = next(g for k, g in resources(template, "AWS::EC2::SecurityGroup").items() if k.startswith("Workstation"))
    assert "SecurityGroupIngress" not in group["Properties"]
    assert "resolve:ssm" in json.dumps(template["Parameters"]) or "AWS::SSM::Parameter" in json.dumps(
        template["Parameters"]
    )


def test_ssh_only_from_the_configured_range_with_a_key(synth) -> None:
    app = synth(workstation_ssh_cidr="203.0.113.10/32", workstation_key_pair="lab-key")
    template = app.template("compute")
    instance = next(iter(resources(template, "AWS::EC2::Instance").values()))["Properties"]
    assert instance["KeyName"] == "lab-key"
    group = next(g for k, g in resources(template, "AWS::EC2::SecurityGroup").items() if k.startswith("Workstation"))
    assert group["Properties"]["SecurityGroupIngress"] == [
        {
            "CidrIp": "203.0.113.10/32",
            "Description": "SSH from the configured range",
            "FromPort": 22,
            "IpProtocol": "tcp",
            "ToPort": 22,
        }
    ]


def test_outputs_give_the_session_and_spark_submit_commands(lab) -> None:
    outputs = lab.template("compute")["Outputs"]
    session = next(v for k, v in outputs.items() if "SessionCommand" in k)
    assert "aws ssm start-session --region eu-west-2 --target" in json.dumps(session["Value"])
    submit = next(v for k, v in outputs.items() if "SparkSubmitCommand" in k)
    assert "spark-submit --master 'local[*]'" in json.dumps(submit["Value"])
    assert any("InstanceId" in k for k in outputs)


def test_standing_mode_outputs_the_cluster_id(synth) -> None:
    outputs = synth(cluster_mode="standing").template("compute")["Outputs"]
    assert any("ClusterId" in k for k in outputs)


def test_job_script_is_an_asset_read_only_by_exact_object(lab) -> None:
    spark = lab.stacks.compute.spark
    args = spark.step_template["HadoopJarStep"]["Args"]
    assert args[:3] == ["spark-submit", "--deploy-mode", "cluster"]
    resolved = lab.stacks.compute.resolve(args[3])
    assert "cdk-hnb659fds-assets" in json.dumps(resolved) and ".py" in json.dumps(resolved)
    # Both roles that run the job may read that one object, and nothing else in the CDK assets bucket.
    for role_prefix in ("SparkInstanceRole", "WorkstationRole"):
        asset_grants = [
            (statement["Action"], json.dumps(resource))
            for name, statement in policy_statements(lab.template("compute"))
            if name.startswith(role_prefix)
            for resource in (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            if "cdk-hnb659fds-assets" in json.dumps(resource)
        ]
        assert len(asset_grants) == 1, role_prefix
        action, resource = asset_grants[0]
        assert action == "s3:GetObject" and resource.endswith('.py"]]}') and "*" not in resource
