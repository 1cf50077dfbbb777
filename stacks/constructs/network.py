"""Network: the lab's VPC, in one of two modes that trade standing cost against having no route to the internet."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Tags
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_s3 as s3
from constructs import Construct, IDependable

from lab_contract.layout import FLOW_LOGS_PREFIX
from lab_contract.modes import NETWORK_MODES
from lab_contract.names import EMR_MANAGED_POLICY_TAG

# Interface endpoints that EMR nodes and the Session Manager agent need when there is no route to the internet.
INTERFACE_ENDPOINTS: dict[str, ec2.InterfaceVpcEndpointAwsService] = {
    "Emr": ec2.InterfaceVpcEndpointAwsService.EMR,
    "Kms": ec2.InterfaceVpcEndpointAwsService.KMS,
    "Ssm": ec2.InterfaceVpcEndpointAwsService.SSM,
    "SsmMessages": ec2.InterfaceVpcEndpointAwsService.SSM_MESSAGES,
    "Ec2Messages": ec2.InterfaceVpcEndpointAwsService.EC2_MESSAGES,
}


@dataclass(frozen=True, kw_only=True)
class LabNetworkProps:
    mode: str
    """One of ``NETWORK_MODES``: ``public`` (no standing cost) or ``isolated`` (no route to the internet)."""
    cidr: str = "10.42.0.0/16"
    """The VPC's IPv4 range; each subnet is a /20 of it."""
    max_azs: int = 2
    """Availability zones with a subnet (EMR may use either; the workstation and the endpoints use the first)."""


class LabNetwork(Construct):
    """A VPC with one subnet per AZ, no NAT gateway, flow logs of all traffic to the logs bucket.

    ``public`` mode: the subnets route to an internet gateway and give instances a public IPv4 address, which
    exists only while the instance runs; nothing is reachable from outside because no security group admits
    traffic from outside the VPC (EMR's Block Public Access would refuse a cluster whose groups did). Session
    Manager, EMR and the workstation's package installs use that route. No hourly charge while nothing runs.

    ``isolated`` mode: isolated subnets with no route to the internet and no public IPs; EMR, KMS and Session
    Manager are reached through interface endpoints placed in one AZ only, to halve their hourly cost.

    Both modes: S3 through a gateway endpoint (free); flow logs expire with the logs bucket's lifecycle rule.
    The EMR security groups are created here, so that EMR does not create its own (which would block
    ``cdk destroy``), and every rule EMR needs between them is declared up front.
    """

    def __init__(self, scope: Construct, construct_id: str, *, props: LabNetworkProps, logs_bucket: s3.IBucket) -> None:
        super().__init__(scope, construct_id)
        if props.mode not in NETWORK_MODES:
            raise ValueError(f"network mode must be one of {NETWORK_MODES}, not {props.mode!r}")
        self.mode = props.mode
        public = props.mode == "public"
        subnet_type = ec2.SubnetType.PUBLIC if public else ec2.SubnetType.PRIVATE_ISOLATED
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(props.cidr),
            max_azs=props.max_azs,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="public" if public else "private",
                    subnet_type=subnet_type,
                    cidr_mask=20,
                    # EMR nodes need a public address to reach the EMR service over this route.
                    map_public_ip_on_launch=True if public else None,
                )
            ],
            # The default security group is never used. Restricting it needs a CDK custom-resource Lambda, which
            # the emulator cannot run; nothing here is placed in it (see audit exceptions).
            restrict_default_security_group=False,
            flow_logs={
                "all-traffic-to-s3": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_s3(logs_bucket, FLOW_LOGS_PREFIX),
                    traffic_type=ec2.FlowLogTrafficType.ALL,
                )
            },
        )
        self.subnets = self.vpc.select_subnets(subnet_type=subnet_type)
        for subnet in self.subnets.subnets:
            Tags.of(subnet).add(EMR_MANAGED_POLICY_TAG, "true")

        self.s3_endpoint = self.vpc.add_gateway_endpoint("S3", service=ec2.GatewayVpcEndpointAwsService.S3)
        self.endpoint_security_group: ec2.SecurityGroup | None = None
        if not public:
            self._add_interface_endpoints(props.cidr)

        self.emr_primary_sg = self._emr_security_group("EmrPrimary", "EMR primary node")
        self.emr_core_sg = self._emr_security_group("EmrCore", "EMR core and task nodes")
        # EMR takes a service-access group only for clusters in private subnets.
        self.emr_service_sg = (
            None if public else self._emr_security_group("EmrServiceAccess", "EMR service access (private subnets)")
        )
        self._declare_emr_rules()

    @property
    def packages_reachable(self) -> IDependable:
        """What an instance's first boot needs before it installs packages: the first subnet's route to the
        internet (public mode) or the S3 gateway endpoint, through which the OS repositories and the
        wheelhouse asset are read (isolated mode)."""
        if self.mode == "public":
            return self.subnets.subnets[0].internet_connectivity_established
        return self.s3_endpoint

    def _add_interface_endpoints(self, cidr: str) -> None:
        group = ec2.SecurityGroup(
            self,
            "EndpointSecurityGroup",
            vpc=self.vpc,
            description="HTTPS from inside the VPC to AWS service endpoints",
            allow_all_outbound=False,
        )
        group.add_ingress_rule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(443), "HTTPS from the lab VPC")
        self.endpoint_security_group = group
        endpoint_subnets = ec2.SubnetSelection(subnets=[self.subnets.subnets[0]])
        for name, service in INTERFACE_ENDPOINTS.items():
            self.vpc.add_interface_endpoint(
                name,
                service=service,
                subnets=endpoint_subnets,
                security_groups=[group],
                private_dns_enabled=True,
                open=False,  # the group above already admits HTTPS from the VPC (a literal CIDR)
            )

    def _emr_security_group(self, construct_id: str, description: str) -> ec2.SecurityGroup:
        group = ec2.SecurityGroup(
            self,
            construct_id,
            vpc=self.vpc,
            description=description,
            allow_all_outbound=construct_id != "EmrServiceAccess",
        )
        Tags.of(group).add(EMR_MANAGED_POLICY_TAG, "true")
        return group

    def _declare_emr_rules(self) -> None:
        """The rules EMR would otherwise add itself; declared here, CloudFormation deletes them on destroy.

        In public subnets EMR still adds one rule of its own at launch: HTTPS (8443) to the primary node from the
        EMR service's address ranges (AWS's, not the internet at large). It is not declared here because those
        ranges are EMR's to maintain."""
        primary, core, service = self.emr_primary_sg, self.emr_core_sg, self.emr_service_sg
        for group in (primary, core):
            for peer, peer_name in ((primary, "primary"), (core, "core")):
                group.add_ingress_rule(peer, ec2.Port.all_tcp(), f"TCP within the cluster ({peer_name})")
                group.add_ingress_rule(peer, ec2.Port.all_udp(), f"UDP within the cluster ({peer_name})")
                group.add_ingress_rule(peer, ec2.Port.all_icmp(), f"ICMP within the cluster ({peer_name})")
            if service is not None:
                group.add_ingress_rule(service, ec2.Port.tcp(8443), "EMR service access")
                service.add_egress_rule(group, ec2.Port.tcp(8443), "EMR service to cluster nodes")
        if service is not None:
            service.add_ingress_rule(primary, ec2.Port.tcp(9443), "Primary node to EMR service access")
