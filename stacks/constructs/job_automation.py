"""Automation: the Lambda functions and their triggers (S3 uploads, EMR state changes, a schedule)."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from lab_contract.environments import EmrEventsEnvironment, SpendGuardEnvironment, SubmitJobEnvironment
from lab_contract.layout import EMR_LOGS_PREFIX, OUTCOMES_PREFIX, RATINGS_PREFIX, RATINGS_SUFFIXES, RESULTS_RUNS_PREFIX
from lab_contract.names import PROJECT_TAG_KEY, STAGE_TAG_KEY
from lab_contract.working_hours import WorkingDays, parse_working_hours
from stacks.compliance.acknowledgements import acknowledge, skip_checkov
from stacks.constructs.alerts_and_budget import AlertsTopic
from stacks.constructs.lambda_function import (
    POWERTOOLS_LAYER_ARN,
    POWERTOOLS_LAYER_VERSION,
    LabFunctionProps,
    function_role,
    lab_function,
)
from stacks.constructs.shared_buckets import SharedBuckets
from stacks.constructs.spark_cluster import SparkJobCluster
from stacks.constructs.workstation import Workstation
from stacks.handoff import Handoff


@dataclass(frozen=True, kw_only=True)
class JobAutomationProps:
    name_prefix: str
    """``<project>-<stage>``: the prefix of every cluster and step name the functions start or recognise."""
    removes_data_on_destroy: bool
    """True (dev): the dead-letter queue and the idempotency table go with ``cdk destroy``. False (prod): retained."""
    log_retention_days: int
    """Retention of each function's log group."""
    reserved_concurrency: int | None
    """Reserved concurrency per function; None: unreserved."""
    max_cluster_age_hours: int
    """The spend guard terminates the project's clusters older than this."""
    max_idle_minutes: int
    """The spend guard terminates the project's clusters that waited idle longer than this."""
    working_hours: str
    working_days: tuple[str, ...]
    working_timezone: str
    """Outside these hours the spend guard stops the workstation."""
    spend_guard_rate_minutes: int
    """How often the spend guard runs."""
    max_jobs_per_invocation: int = 5
    """A cost bound per event: submit_job starts at most this many clusters (or steps) in one invocation; the
    records beyond it raise for Lambda's retry (which skips the ones already started), then reach the on-failure
    queue. S3 sends one record per event, so only a crafted or replayed batch reaches it."""


class JobAutomation(Construct):
    """Three functions with explicit log groups, timeouts, memory, a DLQ and least-privilege roles.

    - submit_job: S3 ObjectCreated under ``ratings/`` (one notification per supported suffix) starts the ALS
      job: a transient cluster from the shared definition, or a step on the standing cluster. Idempotent per
      (bucket, key, version/eTag) through a DynamoDB table. It writes nothing to S3; ``RecursiveLoop`` is
      ``Terminate`` all the same.
    - emr_events: EventBridge ``aws.emr`` step and cluster events of this project's clusters (name prefix);
      records outcomes under ``outcomes/`` in the results bucket and publishes them to the alerts topic.
    - spend_guard: every ``spend_guard_rate_minutes``, terminates this project's clusters that are idle or older
      than ``max_cluster_age_hours`` and stops the workstation outside working hours.

    Asynchronous failures (after Lambda's two retries) land in an encrypted SQS dead-letter queue. Reserved
    concurrency is off unless ``reserved_concurrency`` is set (new accounts have a quota of only 10).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: JobAutomationProps,
        buckets: SharedBuckets,
        alerts: AlertsTopic,
        spark: SparkJobCluster,
        workstation: Workstation,
        handoff: Handoff,
    ) -> None:
        super().__init__(scope, construct_id)
        self._props = props
        self._handoff = handoff
        removal = RemovalPolicy.DESTROY if props.removes_data_on_destroy else RemovalPolicy.RETAIN
        self.powertools = lambda_.LayerVersion.from_layer_version_arn(
            self,
            "Powertools",
            POWERTOOLS_LAYER_ARN.format(region=Stack.of(self).region, version=POWERTOOLS_LAYER_VERSION),
        )
        self.dead_letters = self._dead_letter_queue(removal)
        self.dead_letters_alarm = self._dead_letters_alarm(alerts)
        self.idempotency_table = dynamodb.TableV2(
            self,
            "IdempotencyTable",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            time_to_live_attribute="expiration",
            billing=dynamodb.Billing.on_demand(),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=removal,
        )
        results_uri = f"s3://{buckets.results.bucket_name}/{RESULTS_RUNS_PREFIX.rstrip('/')}"
        self.submit_job = self._submit_job(buckets, spark, results_uri)
        self.emr_events, self.emr_rule = self._emr_events(buckets, alerts, spark, results_uri)
        self.spend_guard, self.schedule = self._spend_guard(spark, workstation)

    def _dead_letter_queue(self, removal: RemovalPolicy) -> sqs.Queue:
        queue = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=removal,
        )
        acknowledge(
            queue,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of the three functions' asynchronous invocations.",
        )
        skip_checkov(
            queue.node.default_child,
            "CKV_AWS_27",
            "Encrypted at rest with SSE-SQS (SqsManagedSseEnabled), which checkov does not recognise; EventBridge "
            "dead-letter delivery cannot use the AWS-managed KMS key.",
        )
        acknowledge(
            queue,
            "Serverless-SQSRedrivePolicy",
            "This queue is the terminal failure destination; nothing consumes it automatically, so no redrive.",
        )
        return queue

    def _dead_letters_alarm(self, alerts: AlertsTopic) -> cloudwatch.Alarm:
        """Nothing consumes the queue: what lands there (a failed upload, event or schedule) must reach a person."""
        alarm = cloudwatch.Alarm(
            self,
            "DeadLettersAlarm",
            alarm_description="An upload, EMR event or spend-guard run failed every retry and waits in the "
            "dead-letter queue: read it, fix the cause, then redrive or delete it",
            metric=self.dead_letters.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5), statistic="Maximum"
            ),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(alerts.topic))
        return alarm

    def _submit_job(self, buckets: SharedBuckets, spark: SparkJobCluster, results_uri: str) -> lambda_.Function:
        # The cluster's network, roles and security configuration, and the standing cluster's id, come from the
        # compute stack through SSM parameters: a routine change there replaces some of them (stacks/handoff.py).
        standing_cluster_id = (
            self._handoff.value("standing-cluster-id", spark.cluster.ref) if spark.cluster is not None else None
        )
        function = self._function(
            "SubmitJob",
            "submit_job",
            description="Starts the ALS job on EMR for each ratings file uploaded under ratings/",
            timeout=Duration.seconds(60),
            unscoped_actions=(
                " and EMR RunJobFlow/AddTags, conditioned on the project's request tags and passing only the "
                "project's two EMR roles, and ListClusters (read-only listing, to find a run's cluster before "
                "starting one)"
            ),
            environment=SubmitJobEnvironment(
                cluster_mode="standing" if spark.cluster is not None else "transient",
                job_flow_template=self._handoff.tree("job-flow", spark.job_flow_template),
                step_template=spark.step_template,
                standing_cluster_id=standing_cluster_id or "",
                cluster_sizing=spark.sizing,
                cluster_name_prefix=self._props.name_prefix,
                results_uri=results_uri,
                ratings_prefix=RATINGS_PREFIX,
                input_bucket=buckets.ratings.bucket_name,
                idempotency_table=self.idempotency_table.table_name,
                max_jobs_per_invocation=self._props.max_jobs_per_invocation,
            ).variables(to_json=Stack.of(self).to_json_string),
        )
        role = function_role(function)
        self.idempotency_table.grant(
            role, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"
        )
        spark.grant_submit(role, standing_cluster_id=standing_cluster_id)
        for suffix in RATINGS_SUFFIXES:
            buckets.ratings.add_event_notification(
                s3.EventType.OBJECT_CREATED,
                s3n.LambdaDestination(function),
                s3.NotificationKeyFilter(prefix=RATINGS_PREFIX, suffix=suffix),
            )
        return function

    def _emr_events(
        self, buckets: SharedBuckets, alerts: AlertsTopic, spark: SparkJobCluster, results_uri: str
    ) -> tuple[lambda_.Function, events.Rule]:
        prefix = self._props.name_prefix
        function = self._function(
            "EmrEvents",
            "emr_events",
            description="Records EMR step and cluster outcomes of this project and publishes them",
            timeout=Duration.seconds(30),
            environment=EmrEventsEnvironment(
                results_bucket=buckets.results.bucket_name,
                outcomes_prefix=OUTCOMES_PREFIX,
                results_uri=results_uri,
                log_uri=f"s3://{buckets.logs.bucket_name}/{EMR_LOGS_PREFIX}",
                topic_arn=alerts.topic.topic_arn,
                cluster_name_prefix=prefix,
            ).variables(),
        )
        role = function_role(function)
        buckets.grant_prefix(role, "results", OUTCOMES_PREFIX, ["s3:PutObject"], list_prefix=False)
        alerts.grant_publish(role)
        rule = events.Rule(
            self,
            "EmrStateChanges",
            description="EMR step and cluster state changes of this project's clusters",
            event_pattern=events.EventPattern(
                source=["aws.emr"],
                detail_type=["EMR Step Status Change", "EMR Cluster State Change"],
                detail={"name": [{"prefix": f"{prefix}-"}]},
            ),
            targets=[self._target(function)],
        )
        spark.grant_describe(role)  # outcome records carry the shape from the cluster's tags
        return function, rule

    def _spend_guard(self, spark: SparkJobCluster, workstation: Workstation) -> tuple[lambda_.Function, events.Rule]:
        props, tags = self._props, spark.props.tags
        instance_id = self._handoff.value("workstation-instance-id", workstation.instance.instance_id)
        function = self._function(
            "SpendGuard",
            "spend_guard",
            description="Terminates idle or over-age clusters; stops the workstation outside working hours",
            timeout=Duration.seconds(120),
            unscoped_actions=" and EMR ListClusters / EC2 DescribeInstances (read-only listing)",
            time_zones=True,  # working hours are in working_timezone
            environment=SpendGuardEnvironment(
                project_tag_key=PROJECT_TAG_KEY,
                project_tag_value=tags[PROJECT_TAG_KEY],
                stage_tag_key=STAGE_TAG_KEY,
                stage_tag_value=tags[STAGE_TAG_KEY],
                max_cluster_age_hours=props.max_cluster_age_hours,
                max_idle_minutes=props.max_idle_minutes,
                workstation_instance_id=instance_id,
                working_hours=parse_working_hours(props.working_hours),
                working_days=WorkingDays(props.working_days),
                working_timezone=ZoneInfo(props.working_timezone),
                emr_service_role=spark.service_role.role_name,
            ).variables(),
        )
        role = function_role(function)
        spark.grant_watch_and_terminate(role)
        workstation.grant_stop(role, instance_id=instance_id)
        schedule = events.Rule(
            self,
            "SpendGuardSchedule",
            description="Runs the spend guard",
            schedule=events.Schedule.rate(Duration.minutes(props.spend_guard_rate_minutes)),
            targets=[self._target(function)],
        )
        return function, schedule

    def _function(
        self,
        construct_id: str,
        folder: str,
        *,
        description: str,
        timeout: Duration,
        environment: dict[str, str],
        unscoped_actions: str = "",
        time_zones: bool = False,
    ) -> lambda_.Function:
        return lab_function(
            self,
            construct_id,
            props=LabFunctionProps(
                folder=folder,
                description=description,
                timeout=timeout,
                environment=environment,
                log_retention_days=self._props.log_retention_days,
                reserved_concurrency=self._props.reserved_concurrency,
                unscoped_actions=unscoped_actions,
                time_zones=time_zones,
            ),
            dead_letters=self.dead_letters,
            powertools=self.powertools,
        )

    def _target(self, function: lambda_.IFunction) -> targets.LambdaFunction:
        return targets.LambdaFunction(
            function, dead_letter_queue=self.dead_letters, retry_attempts=2, max_event_age=Duration.hours(1)
        )
