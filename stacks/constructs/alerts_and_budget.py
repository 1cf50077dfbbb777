"""Alerts topic and the monthly budget that bounds accidental spend."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.compliance.acknowledgements import acknowledge


@dataclass(frozen=True, kw_only=True)
class AlertsTopicProps:
    removes_key_on_destroy: bool
    """True (dev): the topic's KMS key is scheduled for deletion (7 days) on destroy. False (prod): retained."""
    email: str | None
    """Subscribes this address to the topic (AWS asks it to confirm). None: no subscription."""


# The AWS services that publish alerts to the topic: budget notifications and CloudWatch alarm actions.
ALERTING_SERVICES = ("budgets.amazonaws.com", "cloudwatch.amazonaws.com")
# SNS itself, when it moves an undeliverable message to the e-mail subscription's dead-letter queue.
SNS_SERVICE = "sns.amazonaws.com"


class AlertsTopic(Construct):
    """An SNS topic for budget alerts, alarms and job outcomes.

    Encrypted with a customer-managed KMS key (rotation on), because AWS Budgets and CloudWatch alarms cannot
    publish to a topic encrypted with the AWS-managed SNS key; those two services may publish, and use the key,
    only for this account. Publishing requires TLS. Optional e-mail subscription, with a dead-letter queue for
    what SNS cannot deliver to it, encrypted with the same key, and an alarm on that queue. With
    ``removes_key_on_destroy`` (dev) the key is scheduled for deletion (7 days) on destroy; otherwise retained.
    """

    def __init__(self, scope: Construct, construct_id: str, *, props: AlertsTopicProps) -> None:
        super().__init__(scope, construct_id)
        removes_key_on_destroy, email = props.removes_key_on_destroy, props.email
        self.key = kms.Key(
            self,
            "Key",
            description="Encrypts the project's alerts topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY if removes_key_on_destroy else RemovalPolicy.RETAIN,
            pending_window=Duration.days(7),
        )
        # Budgets and CloudWatch publish with their service principals; they need the key to encrypt the message.
        alerting_services = [iam.ServicePrincipal(service) for service in ALERTING_SERVICES]
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowAlertingServicesToUseTheKey",
                principals=alerting_services,
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )
        self.topic = sns.Topic(self, "Topic", master_key=self.key, enforce_ssl=True)
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowAlertingServicesToPublish",
                principals=alerting_services,
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )
        self.email_dead_letters: sqs.Queue | None = None
        if email:
            self.email_dead_letters = self._email_dead_letter_queue(removes_key_on_destroy)
            self.topic.add_subscription(
                subscriptions.EmailSubscription(email, dead_letter_queue=self.email_dead_letters)
            )
            self._email_dead_letters_alarm(self.email_dead_letters)

    def _email_dead_letter_queue(self, removes_on_destroy: bool) -> sqs.Queue:
        """Where SNS keeps a message it could not deliver to the e-mail address ("Amazon SNS dead-letter queues":
        an encrypted queue must use a customer-managed key whose policy lets the SNS service principal use it)."""
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowSnsToUseTheKeyForTheDeadLetterQueue",
                principals=[iam.ServicePrincipal(SNS_SERVICE)],
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )
        queue = sqs.Queue(
            self,
            "EmailDeadLetters",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=RemovalPolicy.DESTROY if removes_on_destroy else RemovalPolicy.RETAIN,
        )
        acknowledge(
            queue,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of the alerts topic's e-mail subscription.",
        )
        acknowledge(
            queue,
            "Serverless-SQSRedrivePolicy",
            "This queue is the terminal failure destination of the e-mail subscription; a person reads it.",
        )
        return queue

    def _email_dead_letters_alarm(self, queue: sqs.Queue) -> cloudwatch.Alarm:
        """An undelivered alert must still be noticed: the alarm shows in CloudWatch and reaches every other
        subscriber of the topic (the budget's own e-mail needs no subscription)."""
        alarm = cloudwatch.Alarm(
            self,
            "EmailDeadLettersAlarm",
            alarm_description="An alert could not be delivered to the subscribed e-mail address and waits in the "
            "e-mail subscription's dead-letter queue: check the address and the subscription's confirmation",
            metric=queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(5), statistic="Maximum"),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.topic))
        return alarm

    def grant_publish(self, grantee: iam.IGrantable) -> None:
        """Publishing to the topic, and the use of its key that publishing needs."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=["sns:Publish"], resources=[self.topic.topic_arn])
        )
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[self.key.key_arn])
        )


@dataclass(frozen=True, kw_only=True)
class MonthlyBudgetProps:
    monthly_limit_usd: int
    """The budget's monthly limit in USD; alerts fire at 80% of actual and 100% of forecast spend."""
    email: str | None
    """Also sends the alerts straight to this address (no subscription to confirm). None: topic only."""


class MonthlyBudget(Construct):
    """An ``AWS::Budgets::Budget`` on the account's monthly cost.

    Unfiltered on purpose: a tag filter only matches once cost allocation tags are activated in Billing, and a
    budget that silently sees $0 bounds nothing. Deploy into an account dedicated to the lab (see README).

    Notifies at 80% of actual spend and at 100% of forecast spend, to the alerts topic and, when configured,
    straight to an e-mail address (which needs no subscription confirmation). The budget only alerts; it
    stops nothing. Idle EMR clusters terminate themselves and the spend guard Lambda stops the rest.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: MonthlyBudgetProps,
        alerts_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        monthly_limit_usd, email = props.monthly_limit_usd, props.email
        subscribers = [budgets.CfnBudget.SubscriberProperty(subscription_type="SNS", address=alerts_topic.topic_arn)]
        if email:
            subscribers.append(budgets.CfnBudget.SubscriberProperty(subscription_type="EMAIL", address=email))

        def notification(kind: str, threshold: int) -> budgets.CfnBudget.NotificationWithSubscribersProperty:
            return budgets.CfnBudget.NotificationWithSubscribersProperty(
                notification=budgets.CfnBudget.NotificationProperty(
                    notification_type=kind,
                    comparison_operator="GREATER_THAN",
                    threshold=threshold,
                    threshold_type="PERCENTAGE",
                ),
                subscribers=subscribers,
            )

        self.budget = budgets.CfnBudget(
            self,
            "Budget",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(amount=monthly_limit_usd, unit="USD"),
            ),
            notifications_with_subscribers=[notification("ACTUAL", 80), notification("FORECASTED", 100)],
        )
