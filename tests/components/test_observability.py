"""Observability under the mocks: every alert reaches the encrypted topic, and nothing is public."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi_kubernetes as k8s
import pytest

from components import alerts
from components.observability import (
    ALERT_PUBLISHERS,
    DASHBOARD_FILE,
    MONITORING_NAMESPACE,
    PROMETHEUS_CHART_REPOSITORY,
    PROMETHEUS_RULE,
    RELEASE_NAME,
    EdgeSignals,
    Observability,
    ObservabilityArgs,
    WatchedCertificate,
    plan_artifacts,
)
from components.settings import ObservabilitySettings, StackSettings
from tests.conftest import ComponentRunner, of_type, one
from tools.offline import ProgramRun
from tools.records import ResourceRecord

NAME = "matching"
# Every resource the component declares, so that an addition is a deliberate change here too.
CHILDREN = 31
COMPONENT = "matching:platform:Observability"
QUEUE_NAME = "matching-queue-1a2b3c"
DEAD_LETTER_QUEUE_NAME = "matching-dead-letters-4d5e6f"
ALB_ARN = "arn:aws:elasticloadbalancing:eu-central-1:111111111111:loadbalancer/app/matching/0a1b"
DISTRIBUTION_ID = "E2ABCDEF123456"
ORIGIN_CERT = "arn:aws:acm:eu-central-1:111111111111:certificate/origin"
VIEWER_CERT = "arn:aws:acm:us-east-1:111111111111:certificate/viewer"

KEY = "aws:kms/key:Key"
TOPIC = "aws:sns/topic:Topic"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
RELEASE = "kubernetes:helm.sh/v3:Release"


def build(settings: ObservabilitySettings) -> Callable[[], None]:
    """The body that declares one Observability as `__main__.py` does, for `run_component`."""

    def body() -> None:
        provider = k8s.Provider("k8s", kubeconfig="{}")
        Observability(
            NAME,
            ObservabilityArgs(
                settings=settings,
                queue_name=QUEUE_NAME,
                dead_letter_queue_name=DEAD_LETTER_QUEUE_NAME,
                k8s_provider=provider,
                cluster_name="matching-staging",
                edge=EdgeSignals(
                    alb_arn=ALB_ARN,
                    distribution_id=DISTRIBUTION_ID,
                    certificates=(
                        WatchedCertificate("origin", ORIGIN_CERT),
                        WatchedCertificate("viewer", VIEWER_CERT, region="us-east-1"),
                    ),
                ),
            ),
        )

    return body


@pytest.fixture
def run(run_component: ComponentRunner, settings: StackSettings) -> ProgramRun:
    return run_component(build(settings.observability))


def topic_arn(run: ProgramRun, role: str = "alerts") -> str:
    return one(run, TOPIC, f"{NAME}-{role}").outputs["arn"]


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


@pytest.mark.parametrize("role", ["alerts", "edge-alerts"])
def test_topic_is_encrypted_with_a_key_the_publishers_may_use(run: ProgramRun, role: str) -> None:
    topic, key = one(run, TOPIC, f"{NAME}-{role}"), one(run, KEY, f"{NAME}-{role}-key")
    publishers = statements(key)["AlertPublishersEncrypt"]

    assert topic.inputs["kmsMasterKeyId"] == key.outputs["arn"], f"{topic.urn} must use its CMK"
    assert "alias/aws/sns" not in topic.inputs["kmsMasterKeyId"], topic.urn
    assert key.inputs["enableKeyRotation"] is True, f"{key.urn} must rotate"
    assert sorted(publishers["Principal"]["Service"]) == sorted(ALERT_PUBLISHERS), key.urn
    assert sorted(publishers["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"], key.urn


def test_only_alarms_budgets_and_alertmanager_may_publish(run: ProgramRun) -> None:
    policy = one(run, "aws:sns/topicPolicy:TopicPolicy", f"{NAME}-alerts")
    found = statements(policy)
    publish = found["AlertPublishersFromThisAccount"]
    alertmanager = one(run, "aws:iam/role:Role", f"{NAME}-alertmanager").outputs["arn"]

    assert policy.inputs["arn"] == topic_arn(run), policy.urn
    assert set(found) == {
        "AlertPublishersFromThisAccount",
        "AlertmanagerPublishes",
        "DenyInsecureTransport",
    }, policy.urn
    assert found["AlertmanagerPublishes"]["Principal"] == {"AWS": alertmanager}, policy.urn
    assert found["AlertmanagerPublishes"]["Action"] == "sns:Publish", policy.urn
    assert publish["Effect"] == "Allow"
    assert sorted(publish["Principal"]["Service"]) == sorted(ALERT_PUBLISHERS), policy.urn
    assert publish["Action"] == "sns:Publish"
    assert publish["Condition"] == {"StringEquals": {"aws:SourceAccount": account_of(run)}}
    assert found["DenyInsecureTransport"]["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }, policy.urn


@pytest.mark.parametrize("role", ["alerts", "edge-alerts"])
def test_alerts_are_mailed_to_the_on_call_address(
    run: ProgramRun, settings: StackSettings, role: str
) -> None:
    subscription = one(run, "aws:sns/topicSubscription:TopicSubscription", f"{NAME}-{role}-email")

    assert subscription.inputs["topic"] == topic_arn(run, role), subscription.urn
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


def test_edge_topic_lives_where_cloudfront_reports(run: ProgramRun) -> None:
    for token in (TOPIC, KEY, "aws:sns/topicPolicy:TopicPolicy"):
        record = one(run, token, f"{NAME}-edge-alerts" + ("-key" if token == KEY else ""))
        assert record.inputs["region"] == "us-east-1", f"{record.urn}: alarms notify in-region"


def test_every_alarm_describes_its_alert_and_links_the_runbook(
    run: ProgramRun, settings: StackSettings
) -> None:
    alarms = of_type(run, ALARM)
    urls = {alert.runbook_link(settings.observability.runbook_url) for alert in alerts.ALERTS}

    assert len(alarms) == 7, [a.name for a in alarms]
    for alarm in alarms:
        linked = alarm.inputs["alarmDescription"].rsplit("Runbook: ", 1)[-1]
        assert linked in urls, f"{alarm.urn} links no runbook section"


@pytest.mark.parametrize("stack", ["staging"], indirect=True)
def test_alerts_link_the_runbook_the_settings_name(
    run_component: ComponentRunner, settings: StackSettings
) -> None:
    elsewhere = "https://git.example.eu/platform/matching/-/blob/main/docs/runbook.md"
    observability = settings.observability.model_copy(update={"runbook_url": elsewhere})
    run = run_component(build(observability))
    rules = one(run, PROMETHEUS_RULE).inputs["spec"]["groups"][0]["rules"]
    by_name = {alert.name: alert for alert in alerts.ALERTS}

    for alarm in of_type(run, ALARM):
        linked = alarm.inputs["alarmDescription"].rsplit("Runbook: ", 1)[-1]
        assert linked.startswith(f"{elsewhere}#"), f"{alarm.urn} links {linked}"
    for rule in rules:
        expected = f"{elsewhere}#{by_name[rule['alert']].anchor}"
        assert rule["annotations"]["runbook_url"] == expected, rule["alert"]


@pytest.mark.parametrize(
    ("alarm", "topic", "region"),
    [
        ("error-rate-alb", "alerts", None),
        ("error-rate-cloudfront", "edge-alerts", "us-east-1"),
    ],
)
def test_error_rate_alarms_ignore_thin_traffic(
    run: ProgramRun, alarm: str, topic: str, region: str | None
) -> None:
    record = one(run, ALARM, f"{NAME}-{alarm}")
    (rate,) = [q for q in record.inputs["metricQueries"] if q.get("returnData")]

    assert rate["expression"].startswith("IF(requests >= 20, "), record.urn
    assert record.inputs["threshold"] == 5, record.urn
    assert record.inputs["alarmActions"] == [topic_arn(run, topic)], record.urn
    assert record.inputs.get("region") in {region, "eu-central-1"}, record.urn


@pytest.mark.parametrize(
    ("role", "arn", "topic"),
    [("origin", ORIGIN_CERT, "alerts"), ("viewer", VIEWER_CERT, "edge-alerts")],
)
def test_certificate_expiry_treats_silence_as_breaching(
    run: ProgramRun, role: str, arn: str, topic: str
) -> None:
    record = one(run, ALARM, f"{NAME}-certificate-expiry-{role}")

    assert record.inputs["namespace"] == "AWS/CertificateManager", record.urn
    assert record.inputs["metricName"] == "DaysToExpiry", record.urn
    assert record.inputs["dimensions"] == {"CertificateArn": arn}, record.urn
    assert record.inputs["comparisonOperator"] == "LessThanThreshold", record.urn
    assert record.inputs["treatMissingData"] == "breaching", record.urn
    assert record.inputs["alarmActions"] == [topic_arn(run, topic)], record.urn


def role_policy(run: ProgramRun, name: str) -> list[dict[str, Any]]:
    record = one(run, "aws:iam/rolePolicy:RolePolicy", f"{NAME}-{name}")
    return json.loads(record.inputs["policy"])["Statement"]


def test_alertmanager_may_publish_to_the_alert_topic_only(run: ProgramRun) -> None:
    publish, key = role_policy(run, "alertmanager-publish")

    assert (publish["Action"], publish["Resource"]) == ("sns:Publish", topic_arn(run))
    assert key["Resource"] == one(run, KEY, f"{NAME}-alerts-key").outputs["arn"]


def test_grafana_reads_cloudwatch_and_writes_nothing(run: ProgramRun) -> None:
    statements = role_policy(run, "grafana-cloudwatch")
    verbs = {action.split(":", 1)[1] for s in statements for action in s["Action"]}

    assert all(v.startswith(("Get", "List", "Describe")) for v in verbs), verbs
    insights = [s for s in statements if "cloudwatch:GetInsightRuleReport" in s["Action"]]
    assert [s["Resource"] for s in insights] == [
        f"arn:aws:cloudwatch:*:{account_of(run)}:insight-rule/*"
    ], "the one read that names a resource gets it"


@pytest.mark.parametrize("account", ["alertmanager", "grafana"])
def test_pod_identities_bind_the_charts_service_accounts(run: ProgramRun, account: str) -> None:
    association = one(
        run, "aws:eks/podIdentityAssociation:PodIdentityAssociation", f"{NAME}-{account}"
    )
    values = one(run, RELEASE, f"{NAME}-prometheus").inputs["values"]
    chart_account = values[account]["serviceAccount"]["name"]

    assert association.inputs["namespace"] == MONITORING_NAMESPACE, association.urn
    assert association.inputs["serviceAccount"] == chart_account, association.urn
    release = one(run, RELEASE, f"{NAME}-prometheus")
    assert association.urn in release.dependencies, "pods must start after their identity"


def test_alertmanager_routes_alerts_to_the_topic_with_sigv4(run: ProgramRun) -> None:
    config = one(run, RELEASE, f"{NAME}-prometheus").inputs["values"]["alertmanager"]["config"]
    receivers = {r["name"]: r for r in config["receivers"]}
    (sns,) = receivers["alert-topic"]["sns_configs"]

    assert sns["topic_arn"] == topic_arn(run)
    assert sns["sigv4"] == {"region": "eu-central-1"}
    assert "access_key" not in sns["sigv4"], "credentials come from Pod Identity"
    assert any(r["receiver"] == "alert-topic" for r in config["route"]["routes"])


def test_grafana_gets_a_cloudwatch_data_source(run: ProgramRun) -> None:
    grafana = one(run, RELEASE, f"{NAME}-prometheus").inputs["values"]["grafana"]
    (source,) = grafana["additionalDataSources"]

    assert source["type"] == "cloudwatch"
    assert source["jsonData"]["authType"] == "default", "no keys: Pod Identity"


def test_monitors_and_rules_carry_the_release_label(run: ProgramRun) -> None:
    monitors = of_type(run, "kubernetes:monitoring.coreos.com/v1:PodMonitor")
    objects = monitors + of_type(run, PROMETHEUS_RULE)

    assert len(objects) == 3, [r.urn for r in objects]
    for record in objects:
        assert record.inputs["metadata"]["labels"] == {"release": RELEASE_NAME}, record.urn


def test_prometheus_rule_is_the_catalogue(run: ProgramRun, settings: StackSettings) -> None:
    rule = one(run, PROMETHEUS_RULE)
    groups = alerts.rule_groups(settings.observability.runbook_url)

    assert rule.inputs["spec"] == {"groups": groups}, rule.urn


def test_dashboard_ships_as_a_configmap_grafana_loads(run: ProgramRun) -> None:
    config_map = one(run, "kubernetes:core/v1:ConfigMap", f"{NAME}-dashboard")
    dashboard = json.loads(config_map.inputs["data"][DASHBOARD_FILE])

    assert config_map.inputs["metadata"]["labels"] == {"grafana_dashboard": "1"}
    assert QUEUE_NAME in config_map.inputs["data"][DASHBOARD_FILE]
    assert "app/matching/0a1b" in config_map.inputs["data"][DASHBOARD_FILE]
    assert dashboard["uid"] == "matching-platform"


def test_plan_artifacts_hold_the_dashboard_and_the_rule_file(
    run: ProgramRun, settings: StackSettings
) -> None:
    files = plan_artifacts((r.type, r.inputs) for r in run.resources)
    groups = alerts.rule_groups(settings.observability.runbook_url)

    assert set(files) == {"dashboard.json", "prometheus-rules.yaml"}
    assert json.loads(files["dashboard.json"])["title"] == "Matching platform"
    assert files["prometheus-rules.yaml"] == alerts.rule_file(groups)
