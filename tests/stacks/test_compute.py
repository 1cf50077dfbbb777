"""Compute stack: network, EMR definition and workstation keep the guarantees their docstrings state."""

from __future__ import annotations

import json

from stacks.constructs.spark_cluster import cfn_cluster_properties


def resources(template: dict, kind: str) -> dict[str, dict]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def test_flow_logs_capture_all_traffic_to_the_logs_bucket(lab) -> None:
    lab.assertions("compute").has_resource_properties(
        "AWS::EC2::FlowLog", {"TrafficType": "ALL", "LogDestinationType": "s3", "ResourceType": "VPC"}
    )
    flow_log = next(iter(resources(lab.template("compute"), "AWS::EC2::FlowLog").values()))
    assert "ml-lab-dev-logs-bucket-arn" in json.dumps(flow_log["Properties"]["LogDestination"])


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
    # It ends with its step; an idle timeout would do nothing and need PutAutoTerminationPolicy (issue 21, defect 5).
    assert "AutoTerminationPolicy" not in template
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
    for key in ("EmrManagedMasterSecurityGroup", "EmrManagedSlaveSecurityGroup"):
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


def test_workstation_imdsv2_encrypted_root_no_key_no_inbound_rule(lab) -> None:
    template = lab.template("compute")
    instance = next(iter(resources(template, "AWS::EC2::Instance").values()))["Properties"]
    assert "KeyName" not in instance
    device = instance["BlockDeviceMappings"][0]
    assert device["Ebs"]["Encrypted"] is True and device["Ebs"]["VolumeType"] == "gp3"
    launch_template = next(iter(resources(template, "AWS::EC2::LaunchTemplate").values()))["Properties"]
    assert launch_template["LaunchTemplateData"]["MetadataOptions"]["HttpTokens"] == "required"
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


def test_outputs_give_the_session_start_and_spark_submit_commands(lab) -> None:
    outputs = lab.template("compute")["Outputs"]
    instance = {"Ref": next(iter(resources(lab.template("compute"), "AWS::EC2::Instance")))}
    assert outputs["WorkstationInstanceId"]["Value"] == instance
    session = json.dumps(outputs["SessionCommand"]["Value"])
    assert "aws ssm start-session --region eu-west-2 --target" in session and json.dumps(instance) in session
    start = json.dumps(outputs["StartWorkstationCommand"]["Value"])
    assert "aws ec2 start-instances --region eu-west-2 --instance-ids" in start and json.dumps(instance) in start
    assert "spark-submit --master 'local[*]'" in json.dumps(outputs["SparkSubmitCommand"]["Value"])


def test_storage_outputs_name_the_buckets_the_sample_upload_and_where_results_land(lab) -> None:
    template = lab.template("storage")
    outputs = template["Outputs"]
    buckets = {
        name: {"Ref": next(k for k in resources(template, "AWS::S3::Bucket") if k.startswith(f"Buckets{name}"))}
        for name in ("Ratings", "Results")
    }
    assert outputs["RatingsBucketName"]["Value"] == buckets["Ratings"]
    assert outputs["ResultsBucketName"]["Value"] == buckets["Results"]
    upload = json.dumps(outputs["UploadSampleCommand"]["Value"])
    assert "aws s3 cp spark_jobs/sample_data/u.data s3://" in upload and json.dumps(buckets["Ratings"]) in upload
    assert upload.endswith('"/ratings/sample/u.data"]]}')
    for output, prefix in (("ResultsLocation", "/runs/<run id>/"), ("OutcomesLocation", "/outcomes/<run id>/")):
        value = json.dumps(outputs[output]["Value"])
        assert json.dumps(buckets["Results"]) in value and prefix in value, output


def test_standing_mode_outputs_the_cluster_id(synth) -> None:
    outputs = synth(cluster_mode="standing").template("compute")["Outputs"]
    assert any("ClusterId" in k for k in outputs)


def test_the_job_is_two_assets_each_read_only_by_exact_object(lab) -> None:
    """The step submits the entry script with the package zip on --py-files, both CDK assets."""
    spark = lab.stacks.compute.spark
    args = spark.step_template["HadoopJarStep"]["Args"]
    assert args[:4] == ["spark-submit", "--deploy-mode", "cluster", "--py-files"]
    package, script = (json.dumps(lab.stacks.compute.resolve(arg)) for arg in args[4:6])
    assert "cdk-hnb659fds-assets" in package and '.zip"' in package
    assert "cdk-hnb659fds-assets" in script and '.py"' in script
    # Both roles that run the job may read those two objects, and nothing else in the CDK assets bucket.
    for role_prefix in ("SparkInstanceRole", "WorkstationRole"):
        asset_grants = sorted(
            (statement["Action"], json.dumps(resource))
            for name, statement in policy_statements(lab.template("compute"))
            if name.startswith(role_prefix)
            for resource in (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            if "cdk-hnb659fds-assets" in json.dumps(resource)
        )
        assert len(asset_grants) == 2, (role_prefix, asset_grants)
        assert {action for action, _ in asset_grants} == {"s3:GetObject"}
        assert sorted(resource.rsplit(".", 1)[-1] for _, resource in asset_grants) == ['py"]]}', 'zip"]]}'], (
            asset_grants
        )
        assert not any("*" in resource for _, resource in asset_grants), asset_grants


def test_submit_job_is_told_the_sizing_the_settings_ask_for(synth) -> None:
    from lab_contract.sizing import SizingPolicy

    app = synth(emr_single_node_max_mb=1, emr_mb_per_core_node=2, emr_core_instance_count=4)  # as in test_cost
    [submit] = [
        r["Properties"]["Environment"]["Variables"]
        for r in resources(app.template("automation"), "AWS::Lambda::Function").values()
        if r["Properties"].get("Environment", {}).get("Variables", {}).get("POWERTOOLS_SERVICE_NAME") == "submit_job"
    ]
    assert SizingPolicy.from_mapping(json.loads(submit["CLUSTER_SIZING"])) == SizingPolicy(
        single_node_max_bytes=1_000_000, bytes_per_core_node=2_000_000, max_core_nodes=4
    )


def test_graviton_by_default_and_the_standing_cluster_is_tagged_with_its_shape(lab, synth) -> None:
    fleets = lab.stacks.compute.spark.job_flow_template["Instances"]["InstanceFleets"]
    assert {f["InstanceTypeConfigs"][0]["InstanceType"] for f in fleets} == {"m7g.xlarge"}
    cluster = next(iter(resources(synth(cluster_mode="standing").template("compute"), "AWS::EMR::Cluster").values()))
    tags = {tag["Key"]: tag["Value"] for tag in cluster["Properties"]["Tags"]}
    assert tags["cluster-shape"] == "primary:1xm7g.xlarge core:2xm7g.xlarge"


def test_the_outcome_function_may_describe_clusters_and_nothing_more_on_them(lab) -> None:
    template = lab.template("automation")
    [events_role] = [
        r["Properties"]["Role"]["Fn::GetAtt"][0]
        for r in resources(template, "AWS::Lambda::Function").values()
        if r["Properties"].get("Environment", {}).get("Variables", {}).get("POWERTOOLS_SERVICE_NAME") == "emr_events"
    ]
    policies = [
        r["Properties"]["PolicyDocument"]["Statement"]
        for r in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": events_role} in r["Properties"]["Roles"]
    ]
    emr_actions = {
        action
        for statements in policies
        for statement in statements
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
        if action.startswith("elasticmapreduce:")
    }
    assert policies and emr_actions == {"elasticmapreduce:DescribeCluster"}
