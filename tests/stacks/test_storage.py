"""Storage stack: the guarantees DataBuckets, AlertsTopic and MonthlyBudget document."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match


def buckets(template: dict) -> dict[str, dict]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == "AWS::S3::Bucket"}


def test_four_buckets_with_generated_names(lab) -> None:
    found = buckets(lab.template("storage"))
    assert sorted(k[:-8] for k in found) == ["BucketsArtifacts", "BucketsLogs", "BucketsRatings", "BucketsResults"]
    assert all("BucketName" not in r["Properties"] for r in found.values())


def test_every_bucket_private_encrypted_and_aborts_multipart(lab) -> None:
    for name, bucket in buckets(lab.template("storage")).items():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, name
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
            "SSEAlgorithm": "AES256"
        }, name
        rules = props["LifecycleConfiguration"]["Rules"]
        assert any(r.get("AbortIncompleteMultipartUpload") == {"DaysAfterInitiation": 7} for r in rules), name


def test_every_bucket_policy_denies_requests_without_tls(lab) -> None:
    template = lab.template("storage")
    policies = [r for r in template["Resources"].values() if r["Type"] == "AWS::S3::BucketPolicy"]
    assert len(policies) == 4
    for policy in policies:
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
        )
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"NumericLessThan": {"s3:TlsVersion": 1.2}} for s in statements
        )


def test_versioning_on_input_and_results_only(lab) -> None:
    versioned = {
        k[:-8]
        for k, r in buckets(lab.template("storage")).items()
        if r["Properties"].get("VersioningConfiguration") == {"Status": "Enabled"}
    }
    assert versioned == {"BucketsRatings", "BucketsResults"}


def test_access_logs_go_to_the_logs_bucket_which_expires_them(lab) -> None:
    found = buckets(lab.template("storage"))
    logs_id = next(k for k in found if k.startswith("BucketsLogs"))
    for name, bucket in found.items():
        if name == logs_id:
            assert "LoggingConfiguration" not in bucket["Properties"]
            rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
            assert {"ExpirationInDays": 90, "Id": "expire-logs", "Status": "Enabled"} in rules
        else:
            assert bucket["Properties"]["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": logs_id}


def test_dev_destroys_buckets_and_their_objects(lab) -> None:
    template = lab.assertions("storage")
    template.all_resources("AWS::S3::Bucket", {"DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete"})
    template.resource_count_is("Custom::S3AutoDeleteObjects", 4)


def test_prod_retains_buckets_and_data(synth) -> None:
    prod = synth(stage="prod", budget_email="ops@example.com")
    template = prod.assertions("storage")
    template.all_resources("AWS::S3::Bucket", {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"})
    template.resource_count_is("Custom::S3AutoDeleteObjects", 0)


def test_budget_alerts_on_actual_and_forecast(synth) -> None:
    app = synth(budget_email="ops@example.com", budget_monthly_usd=75)
    template = app.assertions("storage")
    template.has_resource_properties(
        "AWS::Budgets::Budget",
        {
            "Budget": {"BudgetType": "COST", "TimeUnit": "MONTHLY", "BudgetLimit": {"Amount": 75, "Unit": "USD"}},
            "NotificationsWithSubscribers": [
                {
                    "Notification": Match.object_like({"NotificationType": "ACTUAL", "Threshold": 80}),
                    "Subscribers": Match.array_with([{"Address": "ops@example.com", "SubscriptionType": "EMAIL"}]),
                },
                {
                    "Notification": Match.object_like({"NotificationType": "FORECASTED", "Threshold": 100}),
                    "Subscribers": Match.array_with([Match.object_like({"SubscriptionType": "SNS"})]),
                },
            ],
        },
    )


def test_alerts_topic_is_kms_encrypted_with_rotation(lab) -> None:
    template = lab.assertions("storage")
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


def test_every_resource_is_tagged(lab) -> None:
    expected = {"project": "ml-lab", "stage": "dev", "owner": "data-science", "cost-centre": "ml-lab"}
    for template in lab.templates.values():
        for name, resource in template["Resources"].items():
            tags = resource.get("Properties", {}).get("Tags")
            if tags is None:
                continue
            as_dict = {t["Key"]: t["Value"] for t in tags} if isinstance(tags, list) else tags
            for key, value in expected.items():
                assert as_dict.get(key) == value, f"{name} lacks tag {key}"


def test_every_template_carries_the_residency_rule(lab) -> None:
    for name, template in lab.templates.items():
        assertion = template["Rules"]["RegionResidency"]["Assertions"][0]
        assert assertion["Assert"] == {"Fn::Contains": [list(lab.settings.allowed_regions), {"Ref": "AWS::Region"}]}, (
            name
        )


def test_logs_bucket_grants_flow_log_delivery_only_under_its_prefix(lab) -> None:
    policies = [r for r in lab.template("storage")["Resources"].values() if r["Type"] == "AWS::S3::BucketPolicy"]
    statements = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
    write = next(s for s in statements if s.get("Sid") == "AWSLogDeliveryWrite")
    assert write["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
    assert "/vpc-flow-logs/AWSLogs/" in json.dumps(write["Resource"])
    assert write["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_kms_keys_are_deleted_with_dev_and_retained_in_prod(lab, synth) -> None:
    prod = synth(stage="prod", budget_email="ops@example.com")
    for app, policy in ((lab, "Delete"), (prod, "Retain")):
        for template in app.templates.values():
            for resource in template["Resources"].values():
                if resource["Type"] == "AWS::KMS::Key":
                    assert resource["DeletionPolicy"] == policy
                    if policy == "Delete":
                        assert resource["Properties"]["PendingWindowInDays"] == 7


def test_cdk_generated_handlers_get_a_log_group_removed_on_destroy(lab) -> None:
    for template in lab.templates.values():
        handlers = {
            k
            for k, r in template["Resources"].items()
            if r["Type"] == "AWS::Lambda::Function" and "LoggingConfig" not in r["Properties"]
        }
        groups = {
            r["Properties"]["LogGroupName"]["Fn::Join"][1][1]["Ref"]: k
            for k, r in template["Resources"].items()
            if r["Type"] == "AWS::Logs::LogGroup" and isinstance(r["Properties"].get("LogGroupName"), dict)
        }
        assert set(groups) == handlers
        for logical_id in groups.values():
            assert template["Resources"][logical_id]["DeletionPolicy"] == "Delete"
        for resource in template["Resources"].values():
            if resource["Type"] in ("Custom::S3AutoDeleteObjects", "Custom::S3BucketNotifications"):
                assert set(groups.values()) <= set(resource["DependsOn"])


def test_the_budget_is_created_after_the_topic_policy_that_lets_budgets_publish(lab) -> None:
    resources = lab.template("storage")["Resources"]
    (budget,) = [resource for resource in resources.values() if resource["Type"] == "AWS::Budgets::Budget"]
    policies = [logical_id for logical_id, r in resources.items() if r["Type"] == "AWS::SNS::TopicPolicy"]
    assert policies and set(policies) <= set(budget.get("DependsOn", []))
