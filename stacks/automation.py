"""Automation: Lambda functions and their triggers (S3 uploads, EMR state changes, a schedule)."""

from __future__ import annotations

from pathlib import Path
from aws_cdk import Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.audit_acknowledgements import acknowledge, skip_cfn_lint, skip_checkov
from stacks.settings import Settings
from stacks.shared_buckets import SharedBuckets
from stacks.spark_cluster import SparkJobCluster
from stacks.storage import EMR_LOGS_PREFIX, OUTCOMES_PREFIX, RATINGS_PREFIX, RESULTS_RUNS_PREFIX

FUNCTIONS_DIR = Path(__file__).resolve().parent.parent / "lambda_functions"
RUNTIME = lambda_.Runtime.PYTHON_3_14
# Upload suffixes the ALS job reads: MovieLens 100K (u.data, u1.base, u1.test), ratings.csv, 1M ratings.dat.
RATINGS_SUFFIXES = (".data", ".base", ".test", ".csv", ".dat")
# Powertools for AWS Lambda (Python) v3, the official public layer (account 017000801446), pinned by version.
POWERTOOLS_LAYER_ARN = "arn:aws:lambda:{region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python314-x86_64:{version}"
POWERTOOLS_LAYER_VERSION = 27


class JobAutomation(Construct):
    """Three functions with explicit log groups, timeouts, memory, a DLQ and least-privilege roles.

    - submit_job: S3 ObjectCreated under ``ratings/`` (one notification per supported suffix) starts the ALS
      job: a transient cluster from the shared definition, or a step on the standing cluster. Idempotent per
      (bucket, key, version/eTag) through a DynamoDB table. It writes nothing to S3; ``RecursiveLoop`` is
      ``Terminate`` all the same.
    - emr_events: EventBridge ``aws.emr`` step and cluster events of this project's clusters (name prefix);
      records outcomes under ``outcomes/`` in the results bucket and publishes them to the alerts topic.
    - spend_guard: every ``spend_guard_rate_minutes``, terminates this project's clusters that are idle or older
      than ``emr_max_cluster_age_hours`` and stops the workstation outside working hours.

    Asynchronous failures (after Lambda's two retries) land in an encrypted SQS dead-letter queue. Reserved
    concurrency is off unless ``lambda_reserved_concurrency`` is set (new accounts have a quota of only 10).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        buckets: SharedBuckets,
        ratings_bucket: s3.IBucket,
        alerts_topic: sns.ITopic,
        alerts_key: kms.IKey,
        spark: SparkJobCluster,
        workstation_instance_id: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self._settings = settings
        removal = RemovalPolicy.DESTROY if settings.removes_data_on_destroy else RemovalPolicy.RETAIN
        self.powertools = lambda_.LayerVersion.from_layer_version_arn(
            self,
            "Powertools",
            POWERTOOLS_LAYER_ARN.format(region=stack.region, version=POWERTOOLS_LAYER_VERSION),
        )
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=removal,
        )
        acknowledge(
            self.dead_letters,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of the three functions' asynchronous invocations.",
        )
        skip_checkov(
            self.dead_letters.node.default_child,
            "CKV_AWS_27",
            "Encrypted at rest with SSE-SQS (SqsManagedSseEnabled), which checkov does not recognise; EventBridge "
            "dead-letter delivery cannot use the AWS-managed KMS key.",
        )
        acknowledge(
            self.dead_letters,
            "Serverless-SQSRedrivePolicy",
            "This queue is the terminal failure destination; nothing consumes it automatically, so no redrive.",
        )
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

        prefix = settings.name_prefix
        results_uri = f"s3://{buckets.results.bucket_name}/{RESULTS_RUNS_PREFIX.rstrip('/')}"
        self.submit_job = self._function(
            "SubmitJob",
            "submit_job",
            description="Starts the ALS job on EMR for each ratings file uploaded under ratings/",
            timeout=Duration.seconds(60),
            unscoped_actions=(
                " and EMR RunJobFlow/AddTags, conditioned on the project's request tags and passing only the "
                "project's two EMR roles"
            ),
            environment={
                "CLUSTER_MODE": settings.cluster_mode,
                "JOB_FLOW_TEMPLATE": stack.to_json_string(spark.job_flow_template),
                "STEP_TEMPLATE": stack.to_json_string(spark.step_template),
                "STANDING_CLUSTER_ID": spark.cluster.ref if spark.cluster is not None else "",
                "CLUSTER_NAME_PREFIX": prefix,
                "RESULTS_URI": results_uri,
                "RATINGS_PREFIX": RATINGS_PREFIX,
                "INPUT_BUCKET": ratings_bucket.bucket_name,
                "IDEMPOTENCY_TABLE": self.idempotency_table.table_name,
            },
        )
        self._grant_submission(spark)
        for suffix in RATINGS_SUFFIXES:
            ratings_bucket.add_event_notification(
                s3.EventType.OBJECT_CREATED,
                s3n.LambdaDestination(self.submit_job),
                s3.NotificationKeyFilter(prefix=RATINGS_PREFIX, suffix=suffix),
            )

        self.emr_events = self._function(
            "EmrEvents",
            "emr_events",
            description="Records EMR step and cluster outcomes of this project and publishes them",
            timeout=Duration.seconds(30),
            environment={
                "RESULTS_BUCKET": buckets.results.bucket_name,
                "OUTCOMES_PREFIX": OUTCOMES_PREFIX,
                "RESULTS_URI": results_uri,
                "LOG_URI": f"s3://{buckets.logs.bucket_name}/{EMR_LOGS_PREFIX}",
                "TOPIC_ARN": alerts_topic.topic_arn,
                "CLUSTER_NAME_PREFIX": prefix,
            },
        )
        buckets.grant_prefix(self.emr_events.role, "results", OUTCOMES_PREFIX, ["s3:PutObject"], list_prefix=False)
        self.emr_events.add_to_role_policy(iam.PolicyStatement(actions=["sns:Publish"], resources=[alerts_topic.topic_arn]))
        self.emr_events.add_to_role_policy(
            iam.PolicyStatement(actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[alerts_key.key_arn])
        )
        self.emr_rule = events.Rule(
            self,
            "EmrStateChanges",
            description="EMR step and cluster state changes of this project's clusters",
            event_pattern=events.EventPattern(
                source=["aws.emr"],
                detail_type=["EMR Step Status Change", "EMR Cluster State Change"],
                detail={"name": [{"prefix": f"{prefix}-"}]},
            ),
            targets=[self._target(self.emr_events)],
        )

        self.spend_guard = self._function(
            "SpendGuard",
            "spend_guard",
            description="Terminates idle or over-age clusters; stops the workstation outside working hours",
            timeout=Duration.seconds(120),
            unscoped_actions=" and EMR ListClusters / EC2 DescribeInstances (read-only listing)",
            environment={
                "PROJECT_TAG_KEY": "project",
                "PROJECT_TAG_VALUE": settings.project,
                "STAGE_TAG_KEY": "stage",
                "STAGE_TAG_VALUE": settings.stage,
                "MAX_CLUSTER_AGE_HOURS": str(settings.emr_max_cluster_age_hours),
                "MAX_IDLE_MINUTES": str(settings.emr_idle_timeout_minutes),
                "WORKSTATION_INSTANCE_ID": workstation_instance_id or "",
                "WORKING_HOURS": settings.working_hours,
                "WORKING_DAYS": ",".join(settings.working_days),
                "WORKING_TIMEZONE": settings.working_timezone,
            },
        )
        self._grant_spend_guard(workstation_instance_id)
        self.schedule = events.Rule(
            self,
            "SpendGuardSchedule",
            description="Runs the spend guard",
            schedule=events.Schedule.rate(Duration.minutes(settings.spend_guard_rate_minutes)),
            targets=[self._target(self.spend_guard)],
        )

    def _function(
        self,
        construct_id: str,
        folder: str,
        *,
        description: str,
        timeout: Duration,
        environment: dict[str, str],
        unscoped_actions: str = "",
    ) -> lambda_.Function:
        log_group = logs.LogGroup(
            self,
            f"{construct_id}Logs",
            retention=logs.RetentionDays(self._retention_name()),
            removal_policy=RemovalPolicy.DESTROY,
        )
        function = lambda_.Function(
            self,
            construct_id,
            description=description,
            runtime=RUNTIME,
            architecture=lambda_.Architecture.X86_64,
            code=lambda_.Code.from_asset(str(FUNCTIONS_DIR / folder), exclude=["__pycache__", "*.pyc"]),
            handler="handler.lambda_handler",
            memory_size=256,
            timeout=timeout,
            layers=[self.powertools],
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            environment={
                "POWERTOOLS_SERVICE_NAME": folder,
                "POWERTOOLS_LOG_LEVEL": "INFO",
                **environment,
            },
            on_failure=destinations.SqsDestination(self.dead_letters),
            retry_attempts=2,
            reserved_concurrent_executions=self._settings.lambda_reserved_concurrency,
            recursive_loop=lambda_.RecursiveLoop.TERMINATE,
            tracing=lambda_.Tracing.ACTIVE,
        )
        acknowledge(
            function,
            "Serverless-LambdaDLQ",
            "Asynchronous failures go to an on-failure destination (the SQS queue), which supersedes a DLQ and "
            "records the request, response and error.",
        )
        resource = function.node.default_child
        skip_checkov(
            log_group.node.default_child,
            "CKV_AWS_158",
            "CloudWatch encrypts these logs at rest with service keys; a customer key adds cost and key policy for "
            "operational logs that hold object keys and run ids, not ratings.",
        )
        skip_checkov(
            resource,
            "CKV_AWS_116",
            "Asynchronous failures go to the on-failure destination (SQS) in the EventInvokeConfig, which checkov "
            "does not read.",
        )
        skip_checkov(
            resource,
            "CKV_AWS_117",
            "The function calls only AWS APIs; inside the VPC it would need more paid interface endpoints and gain "
            "no isolation.",
        )
        skip_checkov(
            resource,
            "CKV_AWS_173",
            "The environment holds no secrets (bucket names, the cluster template); Lambda encrypts it at rest.",
        )
        if self._settings.lambda_reserved_concurrency is None:
            skip_checkov(
                resource,
                "CKV_AWS_115",
                "Reserved concurrency is the setting lambda_reserved_concurrency, off by default: new accounts "
                "have a quota of 10 and reserving would fail the deploy.",
            )
        skip_cfn_lint(
            function.node.default_child,
            "W3005",
            "CDK declares DependsOn the role and its default policy so the policy exists before the first call.",
        )
        acknowledge(
            function.role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "AWS's basic execution policy only lets the function write to its own CloudWatch log streams.",
        )
        acknowledge(
            function.role,
            "AwsSolutions-IAM5[Resource::*]",
            "Only actions without resource-level permissions use '*': X-Ray PutTraceSegments/PutTelemetryRecords "
            "(active tracing)" + unscoped_actions + ".",
        )
        return function

    def _retention_name(self) -> str:
        names = {1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS", 30: "ONE_MONTH",
                 60: "TWO_MONTHS", 90: "THREE_MONTHS", 180: "SIX_MONTHS", 365: "ONE_YEAR"}
        return names[self._settings.log_retention_days]

    def _target(self, function: lambda_.IFunction) -> targets.LambdaFunction:
        return targets.LambdaFunction(
            function, dead_letter_queue=self.dead_letters, retry_attempts=2, max_event_age=Duration.hours(1)
        )

    def _grant_submission(self, spark: SparkJobCluster) -> None:
        function = self.submit_job
        self.idempotency_table.grant(
            function, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"
        )
        stack = Stack.of(self)
        tag_conditions = {
            "StringEquals": {
                "aws:RequestTag/project": self._settings.project,
                "aws:RequestTag/stage": self._settings.stage,
            }
        }
        if spark.cluster is None:
            # RunJobFlow has no resource-level permissions; the request tags bind it to this project.
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["elasticmapreduce:RunJobFlow", "elasticmapreduce:AddTags"],
                    resources=["*"],
                    conditions=tag_conditions,
                )
            )
        else:
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["elasticmapreduce:AddJobFlowSteps"],
                    resources=[
                        stack.format_arn(service="elasticmapreduce", resource="cluster", resource_name=spark.cluster.ref)
                    ],
                )
            )
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[role.role_arn for role in spark.pass_roles],
                conditions={"StringEquals": {"iam:PassedToService": ["elasticmapreduce.amazonaws.com", "ec2.amazonaws.com"]}},
            )
        )

    def _grant_spend_guard(self, workstation_instance_id: str | None) -> None:
        function = self.spend_guard
        stack = Stack.of(self)
        # ListClusters and DescribeInstances support no resource-level permissions.
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["elasticmapreduce:ListClusters", "ec2:DescribeInstances"], resources=["*"])
        )
        clusters = stack.format_arn(service="elasticmapreduce", resource="cluster", resource_name="*")
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["elasticmapreduce:DescribeCluster", "elasticmapreduce:ListSteps"], resources=[clusters]
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["elasticmapreduce:TerminateJobFlows"],
                resources=[clusters],
                conditions={
                    "StringEquals": {
                        "aws:ResourceTag/project": self._settings.project,
                        "aws:ResourceTag/stage": self._settings.stage,
                    }
                },
            )
        )
        account = "<AWS::AccountId>" if Token.is_unresolved(stack.account) else stack.account
        partition = "<AWS::Partition>" if Token.is_unresolved(stack.region) else "aws"
        region = "<AWS::Region>" if Token.is_unresolved(stack.region) else stack.region
        acknowledge(
            function.role,
            f"AwsSolutions-IAM5[Resource::arn:{partition}:elasticmapreduce:{region}:{account}:cluster/*]",
            "Cluster ids are only known at run time; termination is limited to clusters tagged with this "
            "project and stage.",
        )
        if workstation_instance_id:
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["ec2:StopInstances"],
                    resources=[stack.format_arn(service="ec2", resource="instance", resource_name=workstation_instance_id)],
                )
            )

