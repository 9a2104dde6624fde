"""Observability under the mocks: every alert reaches the encrypted topic, and nothing is public."""

from __future__ import annotations

import json
from typing import Any

import pulumi_kubernetes as k8s
import pytest

from components.observability import (
    ALERT_PUBLISHERS,
    MONITORING_NAMESPACE,
    PROMETHEUS_CHART_REPOSITORY,
    Observability,
    ObservabilityArgs,
)
from components.settings import StackSettings
from tests.conftest import ComponentRunner, of_type, one
from tools.offline import ProgramRun
from tools.records import ResourceRecord

NAME = "matching"
# Every resource the component declares, so that an addition is a deliberate change here too.
CHILDREN = 11
COMPONENT = "matching:platform:Observability"
QUEUE_NAME = "matching-queue-1a2b3c"
DEAD_LETTER_QUEUE_NAME = "matching-dead-letters-4d5e6f"

KEY = "aws:kms/key:Key"
TOPIC = "aws:sns/topic:Topic"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
RELEASE = "kubernetes:helm.sh/v3:Release"


@pytest.fixture
def run(run_component: ComponentRunner, settings: StackSettings) -> ProgramRun:
    def body() -> None:
        provider = k8s.Provider("k8s", kubeconfig="{}")
        Observability(
            NAME,
            ObservabilityArgs(
                settings=settings.observability,
                queue_name=QUEUE_NAME,
                dead_letter_queue_name=DEAD_LETTER_QUEUE_NAME,
                k8s_provider=provider,
            ),
        )

    return run_component(body)


def topic_arn(run: ProgramRun) -> str:
    return one(run, TOPIC).outputs["arn"]


def statements(record: ResourceRecord) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in json.loads(record.inputs["policy"])["Statement"]}


def account_of(run: ProgramRun) -> str:
    return topic_arn(run).split(":")[4]


def test_every_child_is_named_and_parented_by_the_component(run: ProgramRun) -> None:
    component = one(run, COMPONENT, NAME)
    children = [r for r in run.resources if r.parent == component.urn]
    strays = [
        r.urn
        for r in run.resources
        if not r.is_provider
        and r.type not in {COMPONENT, "pulumi:pulumi:Stack"}
        and r.parent != component.urn
    ]

    assert len(children) == CHILDREN, f"expected {CHILDREN} children, found {len(children)}"
    assert strays == [], f"resources outside the component: {strays}"
    for child in children:
        assert child.name.startswith(f"{NAME}-"), f"{child.urn} is not named {NAME}-<role>"


def test_topic_is_encrypted_with_a_key_the_publishers_may_use(run: ProgramRun) -> None:
    topic, key = one(run, TOPIC), one(run, KEY)
    publishers = statements(key)["AlertPublishersEncrypt"]

    assert topic.inputs["kmsMasterKeyId"] == key.outputs["arn"], f"{topic.urn} must use its CMK"
    assert "alias/aws/sns" not in topic.inputs["kmsMasterKeyId"], topic.urn
    assert key.inputs["enableKeyRotation"] is True, f"{key.urn} must rotate"
    assert sorted(publishers["Principal"]["Service"]) == sorted(ALERT_PUBLISHERS), key.urn
    assert sorted(publishers["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"], key.urn


def test_only_alarms_and_budgets_of_this_account_may_publish(run: ProgramRun) -> None:
    policy = one(run, "aws:sns/topicPolicy:TopicPolicy")
    found = statements(policy)
    publish = found["AlertPublishersFromThisAccount"]

    assert policy.inputs["arn"] == topic_arn(run), policy.urn
    assert set(found) == {"AlertPublishersFromThisAccount", "DenyInsecureTransport"}, policy.urn
    assert publish["Effect"] == "Allow"
    assert sorted(publish["Principal"]["Service"]) == sorted(ALERT_PUBLISHERS), policy.urn
    assert publish["Action"] == "sns:Publish"
    assert publish["Condition"] == {"StringEquals": {"aws:SourceAccount": account_of(run)}}
    assert found["DenyInsecureTransport"]["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }, policy.urn


def test_alerts_are_mailed_to_the_on_call_address(run: ProgramRun, settings: StackSettings) -> None:
    subscription = one(run, "aws:sns/topicSubscription:TopicSubscription")

    assert subscription.inputs["topic"] == topic_arn(run), subscription.urn
    assert subscription.inputs["protocol"] == "email", subscription.urn
    assert subscription.inputs["endpoint"] == settings.observability.alert_email, subscription.urn


@pytest.mark.parametrize(
    ("alarm", "queue_name", "periods"),
    [("queue-backlog", QUEUE_NAME, 15), ("dead-letters", DEAD_LETTER_QUEUE_NAME, 1)],
)
def test_queue_alarms_watch_visible_messages_and_notify_the_topic(
    run: ProgramRun, settings: StackSettings, alarm: str, queue_name: str, periods: int
) -> None:
    record = one(run, ALARM, f"{NAME}-{alarm}")
    threshold = settings.observability.queue_depth_alarm if alarm == "queue-backlog" else 0

    assert record.inputs["namespace"] == "AWS/SQS", record.urn
    assert record.inputs["metricName"] == "ApproximateNumberOfMessagesVisible", record.urn
    assert record.inputs["dimensions"] == {"QueueName": queue_name}, record.urn
    assert record.inputs["comparisonOperator"] == "GreaterThanThreshold", record.urn
    assert record.inputs["threshold"] == threshold, record.urn
    assert record.inputs["evaluationPeriods"] == periods, record.urn
    assert record.inputs["treatMissingData"] == "notBreaching", record.urn
    assert record.inputs["alarmActions"] == [topic_arn(run)], f"{record.urn} must alert"
    assert record.inputs["okActions"] == [topic_arn(run)], f"{record.urn} must report recovery"


def test_backlog_must_be_sustained_to_alarm(run: ProgramRun) -> None:
    record = one(run, ALARM, f"{NAME}-queue-backlog")
    minutes = record.inputs["period"] * record.inputs["datapointsToAlarm"] / 60

    assert minutes >= 10, f"{record.urn} would page on a burst ({minutes} min)"


def test_budget_limits_monthly_cost_and_warns_early(
    run: ProgramRun, settings: StackSettings
) -> None:
    budget = one(run, "aws:budgets/budget:Budget")
    notifications = {
        (n["notificationType"], n["threshold"]): n for n in budget.inputs["notifications"]
    }

    assert budget.inputs["budgetType"] == "COST", budget.urn
    assert budget.inputs["timeUnit"] == "MONTHLY", budget.urn
    assert float(budget.inputs["limitAmount"]) == settings.observability.monthly_budget_usd
    assert budget.inputs["limitUnit"] == "USD", budget.urn
    assert set(notifications) == {("ACTUAL", 80), ("ACTUAL", 100), ("FORECASTED", 100)}
    for key, notification in notifications.items():
        assert notification["subscriberSnsTopicArns"] == [topic_arn(run)], f"{budget.urn} {key}"
        assert notification["thresholdType"] == "PERCENTAGE", f"{budget.urn} {key}"


def test_prometheus_stack_is_pinned_in_its_namespace(run: ProgramRun) -> None:
    release = one(run, RELEASE, f"{NAME}-prometheus")

    assert release.inputs["chart"] == "kube-prometheus-stack", release.urn
    assert release.inputs["repositoryOpts"] == {"repo": PROMETHEUS_CHART_REPOSITORY}
    assert release.inputs["version"][0].isdigit(), f"{release.urn} must pin a chart version"
    assert release.inputs["namespace"] == MONITORING_NAMESPACE, release.urn
    assert str(release.provider_urn).endswith("::k8s"), f"{release.urn} must use the cluster"


def test_prometheus_keeps_bounded_history_on_encrypted_volumes(run: ProgramRun) -> None:
    values = one(run, RELEASE, f"{NAME}-prometheus").inputs["values"]
    spec = values["prometheus"]["prometheusSpec"]
    claims = [
        spec["storageSpec"],
        values["alertmanager"]["alertmanagerSpec"]["storage"],
    ]
    (storage_class,) = of_type(run, "kubernetes:storage.k8s.io/v1:StorageClass")

    assert spec["retention"], "Prometheus retention must be bounded in time"
    assert spec["retentionSize"], "Prometheus retention must be bounded in size"
    assert storage_class.inputs["parameters"] == {"type": "gp3", "encrypted": "true"}
    assert storage_class.inputs["reclaimPolicy"] == "Retain", storage_class.urn
    for claim in claims:
        template = claim["volumeClaimTemplate"]["spec"]
        assert template["storageClassName"] == storage_class.inputs["metadata"]["name"]


def test_grafana_has_no_public_endpoint_nor_default_password(run: ProgramRun) -> None:
    grafana = one(run, RELEASE, f"{NAME}-prometheus").inputs["values"]["grafana"]

    assert grafana["service"]["type"] == "ClusterIP"
    assert grafana["ingress"]["enabled"] is False
    assert grafana["adminPassword"] != "prom-operator"
