"""The EC2 workstation: one machine that runs the same ALS job with Spark in local mode, and stops itself when idle."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from lab_contract.layout import RATINGS_PREFIX, RESULTS_RUNS_PREFIX
from stacks.compliance.acknowledgements import acknowledge, role_with_aws_managed_policy
from stacks.constructs.network import LabNetwork
from stacks.constructs.resource_files import render
from stacks.constructs.shared_buckets import SharedBuckets
from stacks.constructs.spark_cluster import SparkJobCluster, grant_read_asset_object
from stacks.outputs import SAMPLE_KEY

# Root's: what the setup script (run by systemd as root) installs and marks as done.
HOME = "/opt/ml-lab"
READY_MARKER = f"{HOME}/ready"
# The runner's user's own (Session Manager logs in as ssm-user, who cannot write to HOME): each run copies the job
# into a folder of its own under ~/USER_FOLDER/ and runs it there.
USER_FOLDER = "ml-lab"
JOB_SCRIPT_NAME = "als_job.py"  # the job's entry script
JOB_PACKAGE_NAME = "als.zip"  # the package it imports (--py-files)
SETUP_PATH = "/usr/local/sbin/ml-lab-setup"
RUNNER_PATH = "/usr/local/bin/ml-lab-als"
# Amazon Linux 2023's python3 is 3.9: numpy 2.0 is the last release with wheels for it.
WORKSTATION_PYTHON = "3.9"
NUMPY_REQUIREMENT = "numpy<2.1"
# The wheelhouse `make wheelhouse` builds (tools/wheelhouse.py): the wheels, a requirements file naming exactly
# them, and a manifest saying which pyspark, CPU architecture and Python they are for.
WHEELHOUSE_MANIFEST = "manifest.json"
WHEELHOUSE_REQUIREMENTS = "requirements.txt"
# A Graviton type: a digit, then "g" in the family name (t4g, m7g, m6gd, c7gn).
_GRAVITON = re.compile(r"^[a-z]+\d+g[a-z]*\.")


def read_wheelhouse_manifest(directory: Path) -> dict[str, str] | None:
    """The wheelhouse's manifest, or None when the directory has none (or an unreadable one)."""
    try:
        manifest = json.loads((directory / WHEELHOUSE_MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def cpu_architecture(instance_type: str) -> str:
    """'arm64' for Graviton instance types, else 'x86_64' (the names EC2 and EMR use)."""
    return "arm64" if _GRAVITON.match(instance_type) else "x86_64"


@dataclass(frozen=True, kw_only=True)
class WorkstationProps:
    pyspark_version: str
    """The pyspark release to install: the Spark version of the cluster's EMR release, so both run the same Spark."""
    instance_type: str
    """The image (Amazon Linux 2023) follows the instance type's architecture (Graviton: arm64)."""
    root_volume_gb: int = 8
    """Encrypted gp3 root volume: the size of the Amazon Linux 2023 image itself, the least it can be. About 1.6 GiB
    is used at first boot and the setup adds about 0.7 GiB (Java 17 headless, pyspark, numpy; pip builds pyspark in
    /tmp, a RAM disk on this image), which leaves about 5 GiB for runs at the lab's sizes (the 1M-rating file is
    25 MB). Large inputs run on EMR, not here. Estimates from package sizes, not measured on an instance."""
    idle_stop_minutes: int
    """The instance stops itself after this many minutes of CPU below ``idle_cpu_percent`` (a multiple of 5)."""
    idle_cpu_percent: int = 5
    """Highest 5-minute CPU maximum that still counts as idle: a Spark job or an install keeps it far above."""
    wheelhouse_dir: Path | None
    """isolated network: the directory ``make wheelhouse`` filled (shipped as a CDK asset, which ``cdk deploy``
    uploads before the stack is created or updated). None: packages come from PyPI over the internet route."""
    key_pair: str | None
    """An EC2 key pair for SSH; needs ``ssh_cidr`` too. None: Session Manager only."""
    ssh_cidr: str | None
    """The one range SSH is admitted from (the settings refuse anything wider than a /16)."""
    image_id: str | None = None
    """The Amazon Linux 2023 image, resolved once (cdk.context.json, ``make refresh-image``; not a setting): a new
    image replaces the instance only when asked for. None: the latest image at every deployment (it may replace the
    instance)."""


class Workstation(Construct):
    """An Amazon Linux 2023 instance reached with Session Manager, that stops itself when nobody uses it.

    Guarantees: IMDSv2 required; encrypted gp3 root volume sized to what it holds; no key pair and no inbound rule
    unless both ``workstation_key_pair`` and a narrow ``workstation_ssh_cidr`` are set (0.0.0.0/0 is refused by
    the settings); read access to the ratings prefix and the job (script and package), write access to the results
    prefix only.
    A public IPv4 address only in the public network mode, and only while it runs.

    Its first boot installs Java 17 and the pyspark that matches the EMR release: from PyPI in the public network
    mode, from the wheelhouse asset in the isolated one. The instance depends on what it installs from (the
    subnet's internet route, or the S3 gateway endpoint through which the OS repositories and the asset are read),
    so it cannot boot before that is in place. Setup is a systemd unit that runs again at the next boot until it has
    succeeded once. A CloudWatch alarm stops the instance (EC2 stop action, no Lambda) after
    ``idle_stop_minutes`` of low CPU; the spend guard also stops it outside working hours.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: WorkstationProps,
        network: LabNetwork,
        buckets: SharedBuckets,
        spark: SparkJobCluster,
    ) -> None:
        super().__init__(scope, construct_id)
        self.region = Stack.of(self).region
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=network.vpc,
            description="Lab workstation: no inbound traffic unless SSH is configured",
            allow_all_outbound=True,
        )
        key_pair = self._ssh_key_pair(props)
        self.role = role_with_aws_managed_policy(
            self,
            "Role",
            service="ec2.amazonaws.com",
            policy="AmazonSSMManagedInstanceCore",
            description="Lab workstation: Session Manager, read ratings and the job, write results",
            reason="AWS's minimal Session Manager policy; it replaces SSH and a hand-written copy would drift.",
        )
        buckets.grant_prefix(self.role, "ratings", RATINGS_PREFIX, ["s3:GetObject"], list_prefix=True)
        buckets.grant_prefix(self.role, "results", RESULTS_RUNS_PREFIX, ["s3:PutObject"], list_prefix=True)
        spark.grant_read_job(self.role)

        self.wheelhouse: s3_assets.Asset | None = None
        if props.wheelhouse_dir is not None:
            self.wheelhouse = s3_assets.Asset(self, "Wheelhouse", path=str(props.wheelhouse_dir))
            grant_read_asset_object(self.role, self.wheelhouse)

        self.instance = self._instance(props, network, key_pair, self._user_data(props, buckets, spark))
        self.idle_alarm = self._idle_alarm(props)

        self.session_command = f"aws ssm start-session --region {self.region} --target {self.instance.instance_id}"
        self.start_command = (
            f"aws ec2 start-instances --region {self.region} --instance-ids {self.instance.instance_id}"
        )

    def _ssh_key_pair(self, props: WorkstationProps) -> ec2.IKeyPair | None:
        """The configured key pair, with the one ingress rule SSH needs; None (Session Manager only) without both."""
        if not (props.key_pair and props.ssh_cidr):
            return None
        key_pair = ec2.KeyPair.from_key_pair_name(self, "KeyPair", props.key_pair)
        self.security_group.add_ingress_rule(
            ec2.Peer.ipv4(props.ssh_cidr), ec2.Port.tcp(22), "SSH from the configured range"
        )
        return key_pair

    @staticmethod
    def _require_imdsv2(instance: ec2.Instance) -> None:
        """IMDSv2 through a launch template CloudFormation names (the instance refers to it by id). The CDK's own
        ``require_imdsv2`` names its template after the construct path, the same in every stage, and launch template
        names are unique per account and Region ("CreateLaunchTemplate", Amazon EC2 API Reference): a second stage
        could not be created."""
        template = ec2.CfnLaunchTemplate(
            instance,
            "LaunchTemplate",
            launch_template_data=ec2.CfnLaunchTemplate.LaunchTemplateDataProperty(
                metadata_options=ec2.CfnLaunchTemplate.MetadataOptionsProperty(http_tokens="required")
            ),
        )
        instance.instance.launch_template = ec2.CfnInstance.LaunchTemplateSpecificationProperty(
            launch_template_id=template.ref, version=template.attr_latest_version_number
        )

    def _instance(
        self, props: WorkstationProps, network: LabNetwork, key_pair: ec2.IKeyPair | None, user_data: ec2.UserData
    ) -> ec2.Instance:
        """The instance: Amazon Linux 2023 for its CPU architecture, IMDSv2, encrypted gp3 root volume, in the first
        subnet; it waits for the route or endpoint its first boot installs packages through."""
        architecture = cpu_architecture(props.instance_type)
        instance = ec2.Instance(
            self,
            "Instance",
            vpc=network.vpc,
            vpc_subnets=ec2.SubnetSelection(subnets=[network.subnets.subnets[0]]),
            instance_type=ec2.InstanceType(props.instance_type),
            machine_image=(
                ec2.MachineImage.generic_linux({Stack.of(self).region: props.image_id})
                if props.image_id is not None
                else ec2.MachineImage.latest_amazon_linux2023(
                    cpu_type=ec2.AmazonLinuxCpuType.ARM_64 if architecture == "arm64" else ec2.AmazonLinuxCpuType.X86_64
                )
            ),
            security_group=self.security_group,
            role=self.role,
            key_pair=key_pair,
            require_imdsv2=False,  # required by _require_imdsv2's launch template instead
            # isolated: never a public address; public: the subnet gives one, released whenever the instance stops.
            associate_public_ip_address=False if network.mode == "isolated" else None,
            user_data=user_data,
            block_devices=[
                ec2.BlockDevice(
                    device_name="/dev/xvda",
                    volume=ec2.BlockDeviceVolume.ebs(
                        props.root_volume_gb, encrypted=True, volume_type=ec2.EbsDeviceVolumeType.GP3
                    ),
                )
            ],
        )
        # First boot installs packages: it must not start before the route or endpoint they come through exists.
        instance.node.add_dependency(network.packages_reachable)
        self._require_imdsv2(instance)
        acknowledge(
            instance,
            "AwsSolutions-EC28",
            "Per-minute detailed monitoring costs extra; the idle alarm works on the free 5-minute CPU metric.",
        )
        acknowledge(
            instance,
            "AwsSolutions-EC29",
            "A disposable workstation that cdk destroy must remove; no data lives on it, results go to S3.",
        )
        return instance

    def _user_data(self, props: WorkstationProps, buckets: SharedBuckets, spark: SparkJobCluster) -> ec2.UserData:
        """``resources/workstation/user-data.sh``: writes the setup script (which installs the packages and writes
        the runner) and a systemd unit that runs it at every boot until it has succeeded once, then starts the unit
        without waiting for it (the unit orders itself after cloud-init's network)."""
        region = self.region
        if self.wheelhouse is None:
            # public network: straight from PyPI, over the subnet's internet route.
            install = render(
                "workstation/install-from-pypi.sh",
                PYSPARK_VERSION=props.pyspark_version,
                NUMPY_REQUIREMENT=NUMPY_REQUIREMENT,
            )
        else:
            # isolated network: no route to PyPI; the wheelhouse asset is read through the S3 gateway endpoint.
            install = render(
                "workstation/install-from-wheelhouse.sh",
                REGION=region,
                WHEELHOUSE_URI=f"s3://{self.wheelhouse.s3_bucket_name}/{self.wheelhouse.s3_object_key}",
                HOME=HOME,
                WHEELHOUSE_REQUIREMENTS=WHEELHOUSE_REQUIREMENTS,
            )
        runner = render(
            "workstation/ml-lab-als.sh",
            READY_MARKER=READY_MARKER,
            REGION=region,
            JOB_SCRIPT_URI=spark.job_script_uri,
            JOB_SCRIPT_NAME=JOB_SCRIPT_NAME,
            JOB_PACKAGE_URI=spark.job_package_uri,
            JOB_PACKAGE_NAME=JOB_PACKAGE_NAME,
            USER_FOLDER=USER_FOLDER,
            SAMPLE_KEY=SAMPLE_KEY,
            RATINGS_BUCKET=buckets.ratings.bucket_name,
            RESULTS_BUCKET=buckets.results.bucket_name,
            RESULTS_RUNS_PREFIX=RESULTS_RUNS_PREFIX,
        )
        setup = render(
            "workstation/ml-lab-setup.sh",
            HOME=HOME,
            INSTALL_PACKAGES=install,
            RUNNER_PATH=RUNNER_PATH,
            RUNNER_SCRIPT=runner,
            READY_MARKER=READY_MARKER,
        )
        unit = render("workstation/ml-lab-setup.service", READY_MARKER=READY_MARKER, SETUP_PATH=SETUP_PATH)
        return ec2.UserData.custom(
            render("workstation/user-data.sh", SETUP_PATH=SETUP_PATH, SETUP_SCRIPT=setup, SETUP_UNIT=unit)
        )

    def _idle_alarm(self, props: WorkstationProps) -> cloudwatch.Alarm:
        if props.idle_stop_minutes % 5:
            raise ValueError(f"idle_stop_minutes must be a multiple of 5, not {props.idle_stop_minutes}")
        periods = props.idle_stop_minutes // 5
        alarm = cloudwatch.Alarm(
            self,
            "IdleAlarm",
            alarm_description=(
                f"Stops the lab workstation after {props.idle_stop_minutes} minutes with CPU below "
                f"{props.idle_cpu_percent}%"
            ),
            metric=cloudwatch.Metric(
                namespace="AWS/EC2",
                metric_name="CPUUtilization",
                dimensions_map={"InstanceId": self.instance.instance_id},
                statistic=cloudwatch.Stats.MAXIMUM,
                period=Duration.minutes(5),
            ),
            threshold=props.idle_cpu_percent,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=periods,
            datapoints_to_alarm=periods,
            # A stopped instance reports nothing: the alarm returns to OK, so the next idle spell fires it again.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cloudwatch_actions.Ec2Action(cloudwatch_actions.Ec2InstanceAction.STOP))
        return alarm

    def grant_stop(self, role: iam.IRole, *, instance_id: str) -> None:
        """Reading instance states (no resource-level permissions exist) and stopping this instance only
        (``instance_id``: its id as the role's stack reads it)."""
        role.add_to_principal_policy(iam.PolicyStatement(actions=["ec2:DescribeInstances"], resources=["*"]))
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ec2:StopInstances"],
                resources=[Stack.of(role).format_arn(service="ec2", resource="instance", resource_name=instance_id)],
            )
        )
