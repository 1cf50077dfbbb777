"""AWS managed policies the simulation evaluates, as AWS documents them, and those it leaves out.

Documents: the statements of a managed policy the requests in ``on_behalf`` rely on, copied from the policy's page in
the AWS Managed Policy Reference Guide. An excerpt holds only Allow statements of a policy with no Deny, so it can
never allow more than the whole policy: a request it allows, the policy allows. It is used for requests that must be
allowed (never to prove a denial, which the rest of the policy could lift).

Unevaluated: policies whose documents are left out. Each grants none of the actions the functions call or the
forbidden list tries, so leaving it out cannot turn a denial into an allow of those actions. A role with any other
managed policy fails the check until it is reviewed and added to one of the two.
"""

from __future__ import annotations

from typing import Any

EMR_MANAGED_TAG = "aws:ResourceTag/for-use-with-amazon-emr-managed-policies"
EMR_MANAGED_REQUEST_TAG = "aws:RequestTag/for-use-with-amazon-emr-managed-policies"

# "AmazonEMRServicePolicy_v2" (AWS Managed Policy Reference Guide), policy version v6: the statements that let the EMR
# service role launch a cluster's instances into the project's subnets and security groups, create their volumes and
# manage the groups' rules. They act only on resources tagged for-use-with-amazon-emr-managed-policies=true, and pass
# only the default instance profile role (EMR_EC2_DefaultRole): a custom one needs its own iam:PassRole.
AMAZON_EMR_SERVICE_POLICY_V2: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "CreateInTaggedNetwork",
            "Effect": "Allow",
            "Action": [
                "ec2:CreateNetworkInterface",
                "ec2:RunInstances",
                "ec2:CreateFleet",
                "ec2:CreateLaunchTemplate",
                "ec2:CreateLaunchTemplateVersion",
            ],
            "Resource": ["arn:aws:ec2:*:*:subnet/*", "arn:aws:ec2:*:*:security-group/*"],
            "Condition": {"StringEquals": {EMR_MANAGED_TAG: "true"}},
        },
        {
            "Sid": "CreateEMRTaggedInstancesAndVolumes",
            "Effect": "Allow",
            "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
            "Resource": ["arn:aws:ec2:*:*:instance/*", "arn:aws:ec2:*:*:volume/*"],
            "Condition": {"StringEquals": {EMR_MANAGED_REQUEST_TAG: "true"}},
        },
        {
            "Sid": "ResourcesToLaunchEC2",
            "Effect": "Allow",
            "Action": [
                "ec2:RunInstances",
                "ec2:CreateFleet",
                "ec2:CreateLaunchTemplate",
                "ec2:CreateLaunchTemplateVersion",
            ],
            "Resource": [
                "arn:aws:ec2:*:*:network-interface/*",
                "arn:aws:ec2:*::image/ami-*",
                "arn:aws:ec2:*:*:key-pair/*",
                "arn:aws:ec2:*:*:capacity-reservation/*",
                "arn:aws:ec2:*:*:placement-group/EMR_*",
                "arn:aws:ec2:*:*:fleet/*",
                "arn:aws:ec2:*:*:dedicated-host/*",
                "arn:aws:resource-groups:*:*:group/*",
            ],
        },
        {
            "Sid": "ManageSecurityGroups",
            "Effect": "Allow",
            "Action": [
                "ec2:AuthorizeSecurityGroupEgress",
                "ec2:AuthorizeSecurityGroupIngress",
                "ec2:RevokeSecurityGroupEgress",
                "ec2:RevokeSecurityGroupIngress",
            ],
            "Resource": "*",
            "Condition": {"StringEquals": {EMR_MANAGED_TAG: "true"}},
        },
        {
            "Sid": "PassRoleForEC2",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": "arn:aws:iam::*:role/EMR_EC2_DefaultRole",
            "Condition": {"StringLike": {"iam:PassedToService": "ec2.amazonaws.com*"}},
        },
    ],
}

# "AmazonSSMManagedInstanceCore" (AWS Managed Policy Reference Guide), policy version v2: the actions the SSM Agent
# needs to register the instance and open Session Manager's channels (its first statement lists many more ssm:
# actions, none of which the simulation asks for; its other statements are ec2messages:* and further ssm: actions).
AMAZON_SSM_MANAGED_INSTANCE_CORE: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["ssm:UpdateInstanceInformation"], "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": [
                "ssmmessages:CreateControlChannel",
                "ssmmessages:CreateDataChannel",
                "ssmmessages:OpenControlChannel",
                "ssmmessages:OpenDataChannel",
            ],
            "Resource": "*",
        },
    ],
}

DOCUMENTS: dict[str, dict[str, Any]] = {
    "arn:aws:iam::aws:policy/service-role/AmazonEMRServicePolicy_v2": AMAZON_EMR_SERVICE_POLICY_V2,
    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore": AMAZON_SSM_MANAGED_INSTANCE_CORE,
}

UNEVALUATED: dict[str, str] = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": "logs:CreateLogGroup/Stream, PutLogEvents",
}
