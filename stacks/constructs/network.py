"""Network: a private VPC for the lab, reachable only through AWS service endpoints."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Tags
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.contract import FLOW_LOGS_PREFIX

# EMR's v2 managed policies only act on subnets and security groups carrying this tag.
EMR_MANAGED_POLICY_TAG = "for-use-with-amazon-emr-managed-policies"

# Interface endpoints that EMR nodes and the Session Manager agent need when there is no NAT gateway.
INTERFACE_ENDPOINTS: dict[str, ec2.InterfaceVpcEndpointAwsService] = {
    "Emr": ec2.InterfaceVpcEndpointAwsService.EMR,
    "Kms": ec2.InterfaceVpcEndpointAwsService.KMS,
    "Ssm": ec2.InterfaceVpcEndpointAwsService.SSM,
    "SsmMessages": ec2.InterfaceVpcEndpointAwsService.SSM_MESSAGES,
    "Ec2Messages": ec2.InterfaceVpcEndpointAwsService.EC2_MESSAGES,
}


@dataclass(frozen=True, kw_only=True)
class LabNetworkProps:
    cidr: str = "10.42.0.0/16"
    """The VPC's IPv4 range; each private subnet is a /20 of it."""
    max_azs: int = 2
    """Availability zones with a private subnet (EMR and the workstation use the first)."""


class LabNetwork(Construct):
    """A VPC with isolated private subnets in two AZs, no internet or NAT gateway, and no public IPs.

    S3 is reached through a gateway endpoint (free); EMR, KMS and Session Manager through interface endpoints
    placed in one AZ only, to halve their hourly cost. Flow logs (all traffic) go to the logs bucket, where
    they expire with its lifecycle rule. The EMR security groups are created here, so that EMR does not create
    its own (which would block ``cdk destroy``), and every rule EMR needs between them is declared up front.
    """

    def __init__(self, scope: Construct, construct_id: str, *, props: LabNetworkProps, logs_bucket: s3.IBucket) -> None:
        super().__init__(scope, construct_id)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(props.cidr),
            max_azs=props.max_azs,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="private", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=20)
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
        self.private_subnets = self.vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        for subnet in self.private_subnets.subnets:
            Tags.of(subnet).add(EMR_MANAGED_POLICY_TAG, "true")

        self.vpc.add_gateway_endpoint("S3", service=ec2.GatewayVpcEndpointAwsService.S3)
        self.endpoint_security_group = ec2.SecurityGroup(
            self,
            "EndpointSecurityGroup",
            vpc=self.vpc,
            description="HTTPS from inside the VPC to AWS service endpoints",
            allow_all_outbound=False,
        )
        self.endpoint_security_group.add_ingress_rule(
            ec2.Peer.ipv4(props.cidr), ec2.Port.tcp(443), "HTTPS from the lab VPC"
        )
        endpoint_subnets = ec2.SubnetSelection(subnets=[self.private_subnets.subnets[0]])
        for name, service in INTERFACE_ENDPOINTS.items():
            self.vpc.add_interface_endpoint(
                name,
                service=service,
                subnets=endpoint_subnets,
                security_groups=[self.endpoint_security_group],
                private_dns_enabled=True,
                open=False,  # the group above already admits HTTPS from the VPC (a literal CIDR)
            )

        self.emr_primary_sg = self._emr_security_group("EmrPrimary", "EMR primary node")
        self.emr_core_sg = self._emr_security_group("EmrCore", "EMR core and task nodes")
        self.emr_service_sg = self._emr_security_group("EmrServiceAccess", "EMR service access (private subnets)")
        self._declare_emr_rules()

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
        """The rules EMR would otherwise add itself; declared here, CloudFormation deletes them on destroy."""
        primary, core, service = self.emr_primary_sg, self.emr_core_sg, self.emr_service_sg
        for group in (primary, core):
            for peer, peer_name in ((primary, "primary"), (core, "core")):
                group.add_ingress_rule(peer, ec2.Port.all_tcp(), f"TCP within the cluster ({peer_name})")
                group.add_ingress_rule(peer, ec2.Port.all_udp(), f"UDP within the cluster ({peer_name})")
                group.add_ingress_rule(peer, ec2.Port.all_icmp(), f"ICMP within the cluster ({peer_name})")
            group.add_ingress_rule(service, ec2.Port.tcp(8443), "EMR service access")
            service.add_egress_rule(group, ec2.Port.tcp(8443), "EMR service to cluster nodes")
        service.add_ingress_rule(primary, ec2.Port.tcp(9443), "Primary node to EMR service access")
