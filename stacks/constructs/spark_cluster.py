"""The EMR Spark cluster definition, shared by the standing cluster and by Lambda-launched transient clusters."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack, Tags, Token
from aws_cdk import aws_emr as emr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from lab_contract.layout import CHECKPOINTS_PREFIX, EMR_LOGS_PREFIX, RATINGS_PREFIX, RESULTS_RUNS_PREFIX
from lab_contract.names import (
    CLUSTER_SHAPE_TAG_KEY,
    INPUT_BYTES_TAG_KEY,
    PROJECT_TAG_KEY,
    STAGE_TAG_KEY,
    standing_cluster_name,
)
from lab_contract.sizing import SizingPolicy, cluster_shape_label
from stacks.compliance.acknowledgements import acknowledge, role_with_aws_managed_policy
from stacks.constructs.network import LabNetwork
from stacks.constructs.shared_buckets import SharedBuckets
from stacks.constructs.staged_sources import staged_copy

SPARK_JOBS = Path(__file__).resolve().parents[2] / "spark_jobs"
JOB_SCRIPT = SPARK_JOBS / "als_job.py"
JOB_PACKAGE = SPARK_JOBS / "als"
EMR_SERVICE = "elasticmapreduce.amazonaws.com"
# The service-linked role EMR creates, on the first cluster of an account, to clean up EC2 resources.
EMR_CLEANUP_ROLE = "AWSServiceRoleForEMRCleanup"


def cfn_cluster_properties(job_flow: dict[str, Any], *, name: str) -> dict[str, Any]:
    """Translates a RunJobFlow request (API shape) into ``AWS::EMR::Cluster`` properties.

    The two shapes differ only in how fleets and configuration properties are spelled, so the standing cluster
    is declared from exactly the definition the Lambda uses for transient clusters.
    """
    instances = dict(job_flow["Instances"])
    fleets = {fleet["InstanceFleetType"]: fleet for fleet in instances.pop("InstanceFleets")}
    for fleet_type, key in (("MASTER", "MasterInstanceFleet"), ("CORE", "CoreInstanceFleet")):
        instances[key] = {k: v for k, v in fleets[fleet_type].items() if k != "InstanceFleetType"}

    def configuration(item: dict[str, Any]) -> dict[str, Any]:
        converted = {"Classification": item["Classification"]}
        if "Properties" in item:
            converted["ConfigurationProperties"] = item["Properties"]
        if "Configurations" in item:
            converted["Configurations"] = [configuration(child) for child in item["Configurations"]]
        return converted

    properties = {key: value for key, value in job_flow.items() if key not in ("Instances", "Configurations", "Tags")}
    properties.update(Name=name, Instances=instances)
    if "Configurations" in job_flow:
        properties["Configurations"] = [configuration(item) for item in job_flow["Configurations"]]
    return properties


def grant_read_asset_object(role: iam.IRole, asset: s3_assets.Asset) -> None:
    """s3:GetObject on one CDK asset's object, and nothing else in the CDK assets bucket."""
    arn = Stack.of(role).format_arn(
        service="s3", region="", account="", resource=asset.s3_bucket_name, resource_name=asset.s3_object_key
    )
    role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[arn]))


@dataclass(frozen=True, kw_only=True)
class SparkJobClusterProps:
    name_prefix: str
    """``<project>-<stage>``: clusters are named ``<name_prefix>-<run id>`` (transient) or ``<name_prefix>-standing``."""
    release_label: str
    """The EMR release (``stacks/emr_release.py``); its Spark matches the local pyspark pin."""
    standing: bool
    """False: each job gets a transient cluster that ends with its step. True: one standing cluster, jobs as steps."""
    primary_instance_type: str
    """The primary node's instance type (on-demand)."""
    core_instance_type: str
    """The core nodes' instance type (on-demand)."""
    core_instance_count: int
    """On-demand core nodes of the standing cluster; for transient clusters the most submit_job gives one (it sizes
    each cluster by the upload, see ``sizing``)."""
    sizing: SizingPolicy
    """Transient clusters: up to ``single_node_max_bytes`` an upload runs on a single node (primary only); above it,
    one core node per ``bytes_per_core_node``, at most ``max_core_nodes``."""
    task_spot_instance_count: int
    """Spot task nodes (price-capacity-optimized, on-demand when Spot is short); 0: no task fleet."""
    task_instance_types: tuple[str, ...]
    """Instance types the Spot task fleet may use."""
    idle_timeout_minutes: int
    """The standing cluster terminates itself after this long with nothing to do (a transient one ends with its
    step)."""
    termination_protected: bool
    """Termination protection for the standing cluster (prod)."""
    removes_key_on_destroy: bool
    """True (dev): the local-disk KMS key is scheduled for deletion with the stack. False (prod): retained."""
    tls_certificates_s3_uri: str | None
    """``s3://bucket/certs.zip`` of PEM files: turns on in-transit TLS between nodes. None: off."""
    spark_defaults: Mapping[str, str]
    """``spark.*`` properties for the cluster's spark-defaults classification; empty: EMR's own defaults."""
    tags: Mapping[str, str]
    """Tags on every cluster; the project and stage tags bind the submit and terminate permissions."""


class SparkJobCluster(Construct):
    """Everything an EMR cluster for the ALS job needs, and the cluster itself in standing mode.

    Guarantees: EMR release and instance types from settings (Spark matches the local pyspark pin); primary and
    core nodes on on-demand capacity, optional Spot task fleet (price-capacity-optimized); the idle standing
    cluster terminates itself after ``emr_idle_timeout_minutes``; a transient cluster ends with its step; no termination
    protection in dev; logs in the logs bucket; a security configuration with S3 (SSE-S3) and local-disk (KMS,
    including EBS) encryption at rest, IMDSv2 required, and in-transit TLS when configured; nodes in private
    subnets with the stack's own security groups; roles limited to the project's buckets and prefixes.
    The job is two CDK assets: the entry script spark-submit runs and the package it imports, a zip whose root
    holds ``als/``, shipped with ``--py-files``. ``job_flow_template`` and ``step_template`` are the one definition
    that both the standing cluster (here) and transient clusters (launched by the submit Lambda) use.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: SparkJobClusterProps,
        network: LabNetwork,
        buckets: SharedBuckets,
    ) -> None:
        super().__init__(scope, construct_id)
        self.props = props
        self.job_script = s3_assets.Asset(self, "JobScript", path=str(JOB_SCRIPT))
        self.job_script_uri = f"s3://{self.job_script.s3_bucket_name}/{self.job_script.s3_object_key}"
        # A directory asset is zipped from the folder's contents and --py-files puts the zip's root on the Python
        # path: so the staged folder holds als/.
        package = staged_copy(self, "spark-job-package", JOB_PACKAGE, inside=JOB_PACKAGE.name)
        self.job_package = s3_assets.Asset(self, "JobPackage", path=str(package))
        self.job_package_uri = f"s3://{self.job_package.s3_bucket_name}/{self.job_package.s3_object_key}"

        # Dev: scheduled for deletion with the stack (nothing it encrypted outlives a cluster). Prod: retained.
        self.local_disk_key = kms.Key(
            self,
            "LocalDiskKey",
            description="EMR local disk and EBS encryption",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY if props.removes_key_on_destroy else RemovalPolicy.RETAIN,
            pending_window=Duration.days(7),
        )
        self.instance_role = iam.Role(
            self,
            "InstanceRole",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description="EMR cluster nodes: read ratings and the job, write results, checkpoints and logs",
        )
        self.instance_profile = iam.CfnInstanceProfile(self, "InstanceProfile", roles=[self.instance_role.role_name])
        self.service_role = role_with_aws_managed_policy(
            self,
            "ServiceRole",
            service="elasticmapreduce.amazonaws.com",
            policy="service-role/AmazonEMRServicePolicy_v2",
            description="EMR service role (v2 managed policy, limited to resources tagged for EMR)",
            reason="AWS's v2 EMR service policy only acts on resources tagged for-use-with-amazon-emr-managed-policies; "
            "a hand-written copy would drift from what EMR needs.",
        )
        self._grant_node_access(buckets)
        self.security_configuration = self._security_configuration()

        self.job_flow_template = self._job_flow_template(network, buckets)
        self.step_template = self._step_template(buckets)
        self.pass_roles = (self.instance_role, self.service_role)

        self.cluster: emr.CfnCluster | None = None
        if props.standing:
            self.cluster = self._standing_cluster()
            CfnOutput(self, "ClusterId", value=self.cluster.ref, description="The standing EMR cluster")

    def _job_flow_template(self, network: LabNetwork, buckets: SharedBuckets) -> dict[str, Any]:
        """RunJobFlow's arguments without Name and Steps: submit_job adds them for each transient cluster, and the
        standing cluster is declared from the same arguments."""
        props = self.props
        instances: dict[str, Any] = {
            "InstanceFleets": self._fleets(),
            "Ec2SubnetIds": network.subnets.subnet_ids,
            "EmrManagedMasterSecurityGroup": network.emr_primary_sg.security_group_id,
            "EmrManagedSlaveSecurityGroup": network.emr_core_sg.security_group_id,
        }
        if network.emr_service_sg is not None:  # private subnets only
            instances["ServiceAccessSecurityGroup"] = network.emr_service_sg.security_group_id
        instances["KeepJobFlowAliveWhenNoSteps"] = props.standing
        instances["TerminationProtected"] = props.standing and props.termination_protected
        template: dict[str, Any] = {
            "ReleaseLabel": props.release_label,
            "LogUri": f"s3://{buckets.logs.bucket_name}/{EMR_LOGS_PREFIX}",
            "Applications": [{"Name": "Hadoop"}, {"Name": "Spark"}],
            "Instances": instances,
            "JobFlowRole": self.instance_profile.ref,
            "ServiceRole": self.service_role.role_name,
            "SecurityConfiguration": self.security_configuration.ref,
            "VisibleToAllUsers": True,
            "StepConcurrencyLevel": 1,
            "Tags": [{"Key": key, "Value": value} for key, value in props.tags.items()],
        }
        if props.standing:
            # Only a cluster kept alive between steps can sit idle. A transient one (KeepJobFlowAliveWhenNoSteps
            # false) ends with its step ("Control cluster termination", EMR Management Guide); an idle-timeout
            # policy sent with RunJobFlow would also need elasticmapreduce:PutAutoTerminationPolicy on the
            # submitting role ("Using an auto-termination policy for Amazon EMR cluster cleanup"). The spend guard
            # terminates any cluster idle as long, or older than the age limit, in either mode.
            template["AutoTerminationPolicy"] = {"IdleTimeout": props.idle_timeout_minutes * 60}
        if props.spark_defaults:
            template["Configurations"] = [
                {"Classification": "spark-defaults", "Properties": dict(props.spark_defaults)}
            ]
        return template

    def _step_template(self, buckets: SharedBuckets) -> dict[str, Any]:
        """The EMR step without Name: spark-submit of the job, to which submit_job appends the run's arguments."""
        props = self.props
        return {
            # Transient: a failed step ends its own cluster (nothing left billing). Standing: the shared cluster
            # keeps serving other steps; CANCEL_AND_WAIT would keep it waiting and billing.
            "ActionOnFailure": "CONTINUE" if props.standing else "TERMINATE_CLUSTER",
            "HadoopJarStep": {
                "Jar": "command-runner.jar",
                "Args": [
                    "spark-submit",
                    "--deploy-mode",
                    "cluster",
                    "--py-files",
                    self.job_package_uri,
                    self.job_script_uri,
                    "--checkpoint-dir",
                    f"s3://{buckets.artifacts.bucket_name}/{CHECKPOINTS_PREFIX}",
                ],
            },
        }

    @property
    def sizing(self) -> SizingPolicy:
        """How submit_job sizes a transient cluster by the upload (lab_contract/sizing.py)."""
        return self.props.sizing

    @property
    def shape_label(self) -> str:
        """The largest shape: the standing cluster's, and the most a transient cluster is given."""
        props = self.props
        return cluster_shape_label(
            props.primary_instance_type,
            props.core_instance_type,
            props.core_instance_count,
            props.task_instance_types,
            props.task_spot_instance_count,
        )

    def _fleets(self) -> list[dict[str, Any]]:
        props = self.props
        fleets: list[dict[str, Any]] = [
            {
                "Name": "primary",
                "InstanceFleetType": "MASTER",
                "TargetOnDemandCapacity": 1,
                "InstanceTypeConfigs": [{"InstanceType": props.primary_instance_type}],
            },
            {
                "Name": "core",
                "InstanceFleetType": "CORE",
                "TargetOnDemandCapacity": props.core_instance_count,
                "InstanceTypeConfigs": [{"InstanceType": props.core_instance_type, "WeightedCapacity": 1}],
            },
        ]
        if props.task_spot_instance_count:
            fleets.append(
                {
                    "Name": "task-spot",
                    "InstanceFleetType": "TASK",
                    "TargetSpotCapacity": props.task_spot_instance_count,
                    "InstanceTypeConfigs": [
                        {"InstanceType": instance_type, "WeightedCapacity": 1}
                        for instance_type in props.task_instance_types
                    ],
                    "LaunchSpecifications": {
                        "SpotSpecification": {
                            "AllocationStrategy": "price-capacity-optimized",
                            "TimeoutDurationMinutes": 20,
                            # A job must not fail for want of Spot; the cost table prices the worst case on-demand.
                            "TimeoutAction": "SWITCH_TO_ON_DEMAND",
                        }
                    },
                }
            )
        return fleets

    def grant_read_job(self, role: iam.IRole) -> None:
        """Read access to the job's two objects (the entry script and the package zip) only, not to the CDK
        assets bucket."""
        grant_read_asset_object(role, self.job_script)
        grant_read_asset_object(role, self.job_package)

    def grant_submit(self, role: iam.IRole, *, standing_cluster_id: str | None) -> None:
        """Starting the job: a transient cluster (RunJobFlow only with the project's request tags, and the AddTags
        EMR authorises for them) or a step on the standing cluster; finding the cluster or step already started for
        a run (ListClusters, or ListSteps of the standing cluster), so a retry never starts a second one; and
        passing exactly the cluster's two roles, only to EMR and EC2.

        AddTags (required since April 2023 to create a cluster with tags) is limited to this account's and region's
        clusters, to exactly the project's four tags (keys and values) and to the two tags submit_job adds to say how
        it sized the cluster (``cluster-shape``, ``input-bytes``; any value): the role cannot add other tags, tag
        studios or notebooks, or tag anything outside the account. IAM cannot tell a cluster being created from an
        existing one here, so the spend guard, which terminates by tag, also requires the project's service role,
        which only this role (and CloudFormation) may pass. ``standing_cluster_id``: the standing cluster's id as the
        role's stack reads it (None in transient mode)."""
        allow = self._allow_for(role)
        if self.cluster is None:
            # RunJobFlow has no resource-level permissions; the request tags bind it to this project.
            allow(["elasticmapreduce:RunJobFlow"], ["*"], {"StringEquals": self._project_tags("aws:RequestTag")})
            allow(
                ["elasticmapreduce:AddTags"],
                [self._any_cluster(role)],
                {
                    "StringEquals": self._project_tags("aws:RequestTag", self.props.tags),
                    "ForAllValues:StringEquals": {
                        "aws:TagKeys": [*self.props.tags, CLUSTER_SHAPE_TAG_KEY, INPUT_BYTES_TAG_KEY]
                    },
                },
            )
            self._acknowledge_any_cluster(
                role,
                "EMR authorises the tags of RunJobFlow as AddTags on clusters whose id does not exist yet; only the "
                "project's four tags (keys and values) and the two sizing tags, on this account's clusters.",
            )
            # ListClusters supports no resource-level permissions; it returns names, states and ids only.
            allow(["elasticmapreduce:ListClusters"], ["*"])
            # EMR creates its cleanup service-linked role at the first cluster of an account, as the caller of
            # RunJobFlow ("Using service-linked roles for Amazon EMR for cleanup"): only that role, only for EMR.
            stack = Stack.of(role)
            allow(
                ["iam:CreateServiceLinkedRole"],
                [
                    stack.format_arn(
                        service="iam",
                        region="",
                        resource="role",
                        resource_name=f"aws-service-role/{EMR_SERVICE}/{EMR_CLEANUP_ROLE}",
                    )
                ],
                {"StringEquals": {"iam:AWSServiceName": EMR_SERVICE}},
            )
        else:
            standing = Stack.of(role).format_arn(
                service="elasticmapreduce", resource="cluster", resource_name=standing_cluster_id
            )
            allow(["elasticmapreduce:AddJobFlowSteps", "elasticmapreduce:ListSteps"], [standing])
        to_emr_or_ec2 = {"iam:PassedToService": ["elasticmapreduce.amazonaws.com", "ec2.amazonaws.com"]}
        allow(["iam:PassRole"], [pass_role.role_arn for pass_role in self.pass_roles], {"StringEquals": to_emr_or_ec2})

    def grant_watch_and_terminate(self, role: iam.IRole) -> None:
        """Listing and describing clusters and their steps; terminating only clusters tagged with the project (the
        spend guard also checks that a cluster runs as the project's service role, see ``grant_submit``)."""
        allow = self._allow_for(role)
        # ListClusters supports no resource-level permissions.
        allow(["elasticmapreduce:ListClusters"], ["*"])
        clusters = self._any_cluster(role)
        allow(["elasticmapreduce:DescribeCluster", "elasticmapreduce:ListSteps"], [clusters])
        tagged = {"StringEquals": self._project_tags("aws:ResourceTag")}
        allow(["elasticmapreduce:TerminateJobFlows"], [clusters], tagged)
        self._acknowledge_any_cluster(
            role,
            "Cluster ids are only known at run time; termination is limited to clusters tagged with this "
            "project and stage.",
        )

    def grant_describe(self, role: iam.IRole) -> None:
        """Describing clusters (their tags say the shape each was given); read-only."""
        self._allow_for(role)(["elasticmapreduce:DescribeCluster"], [self._any_cluster(role)])
        self._acknowledge_any_cluster(
            role, "Cluster ids arrive in EMR events at run time; describing a cluster is read-only."
        )

    @staticmethod
    def _allow_for(role: iam.IRole) -> Callable[..., None]:
        """``allow(actions, resources, conditions=None)``: adds one Allow statement to the role's policy."""

        def allow(actions: list[str], resources: list[str], conditions: dict[str, Any] | None = None) -> None:
            role.add_to_principal_policy(
                iam.PolicyStatement(actions=actions, resources=resources, conditions=conditions)
            )

        return allow

    @staticmethod
    def _any_cluster(role: iam.IRole) -> str:
        """The ARN pattern of every EMR cluster in the role's account and region."""
        return Stack.of(role).format_arn(service="elasticmapreduce", resource="cluster", resource_name="*")

    @staticmethod
    def _acknowledge_any_cluster(role: iam.IRole, reason: str) -> None:
        stack = Stack.of(role)
        account = "<AWS::AccountId>" if Token.is_unresolved(stack.account) else stack.account
        partition = "<AWS::Partition>" if Token.is_unresolved(stack.region) else "aws"
        region = "<AWS::Region>" if Token.is_unresolved(stack.region) else stack.region
        acknowledge(
            role, f"AwsSolutions-IAM5[Resource::arn:{partition}:elasticmapreduce:{region}:{account}:cluster/*]", reason
        )

    def _project_tags(self, condition_key: str, tags: Mapping[str, str] | None = None) -> dict[str, str]:
        """``{<condition_key>/<key>: value}`` for ``tags``, by default the project and stage tags of the cluster."""
        chosen = tags if tags is not None else {key: self.props.tags[key] for key in (PROJECT_TAG_KEY, STAGE_TAG_KEY)}
        return {f"{condition_key}/{key}": value for key, value in chosen.items()}

    def _grant_node_access(self, buckets: SharedBuckets) -> None:
        """Only the project's buckets and prefixes, and only the actions Spark, EMRFS and the log pusher use."""
        role = self.instance_role
        buckets.grant_prefix(role, "ratings", RATINGS_PREFIX, ["s3:GetObject"], list_prefix=True)
        read_write = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
        buckets.grant_prefix(role, "results", RESULTS_RUNS_PREFIX, read_write, list_prefix=True)
        buckets.grant_prefix(role, "artifacts", CHECKPOINTS_PREFIX, read_write, list_prefix=True)
        buckets.grant_prefix(role, "logs", EMR_LOGS_PREFIX, ["s3:PutObject"], list_prefix=False)
        self.grant_read_job(role)
        # The key users: the nodes encrypt their local disks with it, and the service role launches the EBS volumes
        # the security configuration encrypts with it. EBS encryption needs CreateGrant, Decrypt, DescribeKey,
        # GenerateDataKeyWithoutPlaintext and ReEncrypt of the principal that creates the volumes ("Requirements for
        # Amazon EBS encryption", Amazon EBS User Guide); IAM matches action names exactly, so GenerateDataKey does
        # not stand in for GenerateDataKeyWithoutPlaintext. tools/iam_simulation/on_behalf.py proves each.
        key_use = [
            "kms:Encrypt",
            "kms:Decrypt",
            "kms:GenerateDataKey",
            "kms:GenerateDataKeyWithoutPlaintext",
            "kms:ReEncryptFrom",
            "kms:ReEncryptTo",
            "kms:DescribeKey",
        ]
        for principal in (self.instance_role, self.service_role):
            principal.add_to_policy(iam.PolicyStatement(actions=key_use, resources=[self.local_disk_key.key_arn]))
            # EC2 creates the grant on the role's behalf, and only for AWS resources (the same page's advice).
            principal.add_to_policy(
                iam.PolicyStatement(
                    actions=["kms:CreateGrant"],
                    resources=[self.local_disk_key.key_arn],
                    conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
                )
            )
        self.service_role.add_to_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.instance_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
            )
        )

    def _security_configuration(self) -> emr.CfnSecurityConfiguration:
        certificates = self.props.tls_certificates_s3_uri
        encryption: dict[str, Any] = {
            "EnableAtRestEncryption": True,
            "AtRestEncryptionConfiguration": {
                "S3EncryptionConfiguration": {"EncryptionMode": "SSE-S3"},
                "LocalDiskEncryptionConfiguration": {
                    "EncryptionKeyProviderType": "AwsKms",
                    "AwsKmsKey": self.local_disk_key.key_arn,
                    "EnableEbsEncryption": True,
                },
            },
            "EnableInTransitEncryption": certificates is not None,
        }
        if certificates is not None:
            encryption["InTransitEncryptionConfiguration"] = {
                "TLSCertificateConfiguration": {
                    "CertificateProviderType": "PEM",
                    "S3Object": certificates,
                }
            }
        configuration = emr.CfnSecurityConfiguration(
            self,
            "SecurityConfiguration",
            security_configuration={
                "EncryptionConfiguration": encryption,
                "InstanceMetadataServiceConfiguration": {
                    "MinimumInstanceMetadataServiceVersion": 2,
                    "HttpPutResponseHopLimit": 1,
                },
            },
        )
        self._acknowledge_plaintext_in_transit(configuration)
        return configuration

    def _acknowledge_plaintext_in_transit(self, construct: Construct) -> None:
        if self.props.tls_certificates_s3_uri is None:
            acknowledge(
                construct,
                "AwsSolutions-EMR5",
                "In-transit TLS needs a certificate zip the operator provides (setting emr_tls_certificates_s3_uri, "
                "see README); until then node-to-node traffic stays inside the VPC, whose security groups admit "
                "nothing from outside it.",
            )

    def _standing_cluster(self) -> emr.CfnCluster:
        properties = cfn_cluster_properties(self.job_flow_template, name=standing_cluster_name(self.props.name_prefix))
        cluster = emr.CfnCluster(
            self,
            "Cluster",
            name=properties["Name"],
            release_label=properties["ReleaseLabel"],
            log_uri=properties["LogUri"],
            job_flow_role=properties["JobFlowRole"],
            service_role=properties["ServiceRole"],
            security_configuration=properties["SecurityConfiguration"],
            visible_to_all_users=True,
            instances=emr.CfnCluster.JobFlowInstancesConfigProperty(),
        )
        # The remaining properties come verbatim from the shared definition (their L1 spelling is identical).
        for key, value in properties.items():
            if key not in ("Name", "ReleaseLabel", "LogUri", "JobFlowRole", "ServiceRole", "SecurityConfiguration"):
                cluster.add_property_override(key, value)
        task_fleets = [
            f for f in self.job_flow_template["Instances"]["InstanceFleets"] if f["InstanceFleetType"] == "TASK"
        ]
        for fleet in task_fleets:
            task = emr.CfnInstanceFleetConfig(
                self, "TaskFleet", cluster_id=cluster.ref, instance_fleet_type="TASK", name=fleet["Name"]
            )
            for key in ("TargetSpotCapacity", "InstanceTypeConfigs", "LaunchSpecifications"):
                task.add_property_override(key, fleet[key])
        Tags.of(cluster).add(CLUSTER_SHAPE_TAG_KEY, self.shape_label)
        self._acknowledge_plaintext_in_transit(cluster)
        if self.props.tls_certificates_s3_uri is not None:
            acknowledge(
                cluster,
                "AwsSolutions-EMR5",
                "The cluster's security configuration (a Ref cdk-nag does not follow) enables in-transit TLS with "
                "the operator's PEM certificates (setting emr_tls_certificates_s3_uri); the compute tests assert it.",
            )
        acknowledge(
            cluster,
            "AwsSolutions-EMR4",
            "The cluster's security configuration (a Ref cdk-nag does not follow) enables local-disk and EBS "
            "encryption with KMS; tests/stacks/test_compute.py asserts it.",
        )
        acknowledge(
            cluster,
            "AwsSolutions-EMR6",
            "Nodes accept no interactive logins (no key pair, no SSH ingress); work arrives only as EMR steps "
            "submitted through the AWS API, which IAM authenticates.",
        )
        return cluster
