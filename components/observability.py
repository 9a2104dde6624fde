"""The platform's watch: metrics in the cluster, alarms and budgets in AWS, and the alert topics.

Every alert, whether a Prometheus rule through Alertmanager, a CloudWatch alarm or a budget
threshold, lands on one SNS topic encrypted with a key of our own that mails the on-call address.
CloudWatch alarms can only notify a topic in their own region, so the alarms on CloudFront and its
certificate, which live in us-east-1, use a twin topic there with the same subscriber. Prometheus
and Grafana run in the cluster with encrypted storage and no public endpoint; Alertmanager and
Grafana reach AWS through Pod Identity roles of their own. The alert catalogue is
`components/alerts.py`, the dashboard `components/dashboard.py`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components import alerts
from components.alerts import Alert
from components.dashboard import (
    CLOUDWATCH_UID,
    ERROR_RATE_PERCENT,
    GLOBAL_REGION,
    DashboardSources,
    dashboard_json,
)
from components.iam import Statement, allow, pod_identity_trust, policy_document_output
from components.owner import Owner
from components.settings import ObservabilitySettings
from components.workers import KEDA_NAMESPACE, KEDA_OPERATOR_SERVICE_ACCOUNT
from components.workloads import WORKER_HEALTH_PORT, WORKLOAD_NAMESPACE

# The services that publish alerts. Each needs the topic policy to admit it and the topic key's
# policy to let it encrypt: the AWS-managed aws/sns key admits neither, so alarms would fail.
ALERT_PUBLISHERS = ("cloudwatch.amazonaws.com", "budgets.amazonaws.com")

# A backlog above the threshold for this long means workers cannot keep up, not a burst.
QUEUE_DEPTH_PERIOD_SECONDS = 60
QUEUE_DEPTH_SUSTAINED_PERIODS = 15
DEAD_LETTER_PERIOD_SECONDS = 300
# The oldest message must stay past the SLA for five minutes: one slow poll is not a breach.
OLDEST_MESSAGE_PERIODS = 5
# 5xx share over one-minute periods, three of five breaching; below this many requests a minute,
# one failed health probe or client retry would be a large share, so the rate counts as zero.
ERROR_RATE_PERIOD_SECONDS = 60
ERROR_RATE_PERIODS = 5
ERROR_RATE_BREACHING = 3
ERROR_RATE_MIN_REQUESTS = 20
# ACM renews a DNS-validated certificate 60 days before expiry; under 45 means renewal failed and
# leaves six weeks to fix validation. ACM publishes DaysToExpiry once a day.
CERTIFICATE_DAYS_LEFT = 45
DAY_SECONDS = 86_400

# Budget notifications, as (kind, percent of the monthly limit).
BUDGET_THRESHOLDS = (("ACTUAL", 80), ("ACTUAL", 100), ("FORECASTED", 100))

PROMETHEUS_CHART = "kube-prometheus-stack"
PROMETHEUS_CHART_REPOSITORY = "https://prometheus-community.github.io/helm-charts"
# Ships Grafana 12.2 (grafana chart 10.2.0). grafana-foundation-sdk has no 12.x build: its newest
# release line, 11.6, is pinned, and Grafana 12 loads and migrates that dashboard schema.
PROMETHEUS_CHART_VERSION = "79.7.1"
# The chart's monitor and rule selectors match `release: <this name>` and nothing else.
RELEASE_NAME = "kube-prometheus-stack"
RELEASE_LABELS = {"release": RELEASE_NAME}
MONITORING_NAMESPACE = "monitoring"
# Named here rather than left to the chart, because the Pod Identity associations name them.
ALERTMANAGER_SERVICE_ACCOUNT = "alertmanager"
GRAFANA_SERVICE_ACCOUNT = "grafana"
# Prometheus stops keeping blocks at this share of its volume, before the disk fills and it halts.
RETENTION_SHARE_OF_VOLUME = 0.9
ALERTMANAGER_VOLUME = "5Gi"
# gp3 through the EBS CSI driver, which the cluster must run; `encrypted` uses the account's EBS
# key. `Retain`: deleting the release must not delete the metrics history with it.
ENCRYPTED_STORAGE_CLASS = "encrypted-gp3"
# kube-state-metrics drops node labels unless allowed; the dashboard counts nodes per node pool.
NODE_LABELS_ALLOWED = ["nodes=[karpenter.sh/nodepool,karpenter.sh/capacity-type]"]
DASHBOARD_FILE = "matching-platform.json"
# The type token the planner finds the alert rules by, to write them out for promtool.
PROMETHEUS_RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"

# Read-only CloudWatch for Grafana's data source: none of these actions takes a resource ARN.
GRAFANA_CLOUDWATCH_ACTIONS = [
    "cloudwatch:DescribeAlarmsForMetric",
    "cloudwatch:DescribeAlarmHistory",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:ListMetrics",
    "cloudwatch:GetMetricData",
    "ec2:DescribeRegions",
    "tag:GetResources",
]


@dataclass(frozen=True)
class WatchedCertificate:
    """An ACM certificate whose expiry is alarmed on, in the region it was issued in."""

    role: str
    arn: pulumi.Input[str]
    region: str | None = None


@dataclass(frozen=True)
class EdgeSignals:
    """What the edge gives the watch: CloudWatch knows its resources by these."""

    alb_arn: pulumi.Input[str]
    distribution_id: pulumi.Input[str]
    certificates: Sequence[WatchedCertificate] = ()


@dataclass(frozen=True)
class ObservabilityArgs:
    settings: ObservabilitySettings
    queue_name: pulumi.Input[str]
    dead_letter_queue_name: pulumi.Input[str]
    k8s_provider: k8s.Provider
    cluster_name: pulumi.Input[str]
    edge: EdgeSignals
    # The alert topics' keys are kept from deletion in prod: a deleted key loses the topic.
    protect_state: bool = False


@dataclass(frozen=True)
class _Topic:
    """An alert topic, and the policy that must exist before anything publishes to it."""

    topic: aws.sns.Topic
    admitted: aws.sns.TopicPolicy
    key: aws.kms.Key

    @property
    def actions(self) -> list[pulumi.Output[str]]:
        return [self.topic.arn]

    def after(self) -> list[pulumi.Resource]:
        return [self.admitted]


class Observability(pulumi.ComponentResource):
    """Alert topics, CloudWatch alarms, the budget, kube-prometheus-stack, rules and dashboard."""

    alert_topic_arn: pulumi.Output[str]
    edge_alert_topic_arn: pulumi.Output[str]
    dashboard_json: pulumi.Output[str]

    def __init__(
        self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("matching:platform:Observability", name, None, opts)
        self._name = name
        self._args = args
        self._owner = Owner(name, self, args.k8s_provider, protect_state=args.protect_state)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account_id = aws.get_caller_identity_output(opts=invoke).account_id
        self._account_id = account_id
        region = aws.get_region_output(opts=invoke).region

        alertmanager_role = self._pod_role("alertmanager")
        topic = self._alert_topic("alerts", account_id, None, alertmanager_role)
        edge_topic = self._alert_topic("edge-alerts", account_id, GLOBAL_REGION, None)
        self._queue_alarms(topic)
        self._error_rate_alarms(topic, edge_topic)
        self._certificate_alarms(topic, edge_topic)
        self._budget(topic)

        identities = [
            *self._alertmanager_access(alertmanager_role, topic),
            *self._grafana_access(),
        ]
        release = self._prometheus_stack(topic, region, identities)
        self._monitors(release)
        self._rules(release)
        self.dashboard_json = self._dashboard(release, region)

        self.alert_topic_arn = topic.topic.arn
        self.edge_alert_topic_arn = edge_topic.topic.arn
        self.register_outputs(
            {
                "alert_topic_arn": self.alert_topic_arn,
                "edge_alert_topic_arn": self.edge_alert_topic_arn,
                "dashboard_json": self.dashboard_json,
            }
        )

    def _topic_key(
        self, role: str, account_id: pulumi.Output[str], region: str | None
    ) -> aws.kms.Key:
        administrators = Statement(
            Sid="AccountAdministersThroughIam",
            Effect="Allow",
            Principal={"AWS": pulumi.Output.concat("arn:aws:iam::", account_id, ":root")},
            Action="kms:*",
            Resource="*",
        )
        # No account condition here: CloudWatch's calls to KMS carry none it could match, and a
        # condition silently drops every alarm. The topic policy scopes publishers to the account.
        publishers = Statement(
            Sid="AlertPublishersEncrypt",
            Effect="Allow",
            Principal={"Service": list(ALERT_PUBLISHERS)},
            Action=["kms:Decrypt", "kms:GenerateDataKey*"],
            Resource="*",
        )
        key = aws.kms.Key(
            f"{self._name}-{role}-key",
            description=f"{self._name}: encrypts the {role} topic",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=policy_document_output([administrators, publishers]),
            region=region,
            opts=self._owner.stateful(),
        )
        aws.kms.Alias(
            f"{self._name}-{role}-key",
            name=f"alias/{self._name}-{role}",
            target_key_id=key.key_id,
            region=region,
            opts=self._owner.child(),
        )
        return key

    def _alert_topic(
        self,
        role: str,
        account_id: pulumi.Output[str],
        region: str | None,
        alertmanager: aws.iam.Role | None,
    ) -> _Topic:
        key = self._topic_key(role, account_id, region)
        topic = aws.sns.Topic(
            f"{self._name}-{role}",
            kms_master_key_id=key.arn,
            region=region,
            opts=self._owner.child(),
        )
        admitted = aws.sns.TopicPolicy(
            f"{self._name}-{role}",
            arn=topic.arn,
            policy=_topic_policy(topic.arn, account_id, alertmanager),
            region=region,
            opts=self._owner.child(),
        )

        # E-mail subscriptions stay pending until the address confirms the first message.
        aws.sns.TopicSubscription(
            f"{self._name}-{role}-email",
            topic=topic.arn,
            protocol="email",
            endpoint=self._args.settings.alert_email,
            region=region,
            opts=self._owner.child(),
        )
        return _Topic(topic=topic, admitted=admitted, key=key)

    def _alarm(
        self, suffix: str, alert: Alert, topic: _Topic, region: str | None = None, **spec: Any
    ) -> aws.cloudwatch.MetricAlarm:
        """An alarm reporting breach and recovery to `topic`, described from the catalogue."""
        return aws.cloudwatch.MetricAlarm(
            f"{self._name}-{suffix}",
            alarm_description=alert.alarm_description(self._args.settings.runbook_url),
            alarm_actions=topic.actions,
            ok_actions=topic.actions,
            region=region,
            opts=self._owner.child(depends_on=topic.after()),
            **spec,
        )

    def _queue_alarms(self, topic: _Topic) -> None:
        """A sustained backlog, a record older than the SLA, and any record in the dead letters.

        Missing data is not breaching: SQS stops sending metrics for a queue that has been
        empty and untouched for six hours, and a queue holding messages always reports.
        """
        settings = self._args.settings
        queue = {"QueueName": self._args.queue_name}
        sqs = {"namespace": "AWS/SQS", "statistic": "Maximum", "treat_missing_data": "notBreaching"}
        self._alarm(
            "queue-backlog",
            alerts.QUEUE_BACKLOG,
            topic,
            metric_name="ApproximateNumberOfMessagesVisible",
            dimensions=queue,
            period=QUEUE_DEPTH_PERIOD_SECONDS,
            evaluation_periods=QUEUE_DEPTH_SUSTAINED_PERIODS,
            datapoints_to_alarm=QUEUE_DEPTH_SUSTAINED_PERIODS,
            comparison_operator="GreaterThanThreshold",
            threshold=settings.queue_depth_alarm,
            **sqs,
        )
        self._alarm(
            "oldest-message",
            alerts.OLDEST_MESSAGE,
            topic,
            metric_name="ApproximateAgeOfOldestMessage",
            dimensions=queue,
            period=QUEUE_DEPTH_PERIOD_SECONDS,
            evaluation_periods=OLDEST_MESSAGE_PERIODS,
            datapoints_to_alarm=OLDEST_MESSAGE_PERIODS,
            comparison_operator="GreaterThanThreshold",
            threshold=settings.oldest_message_sla_seconds,
            **sqs,
        )
        self._alarm(
            "dead-letters",
            alerts.DEAD_LETTERS,
            topic,
            metric_name="ApproximateNumberOfMessagesVisible",
            dimensions={"QueueName": self._args.dead_letter_queue_name},
            period=DEAD_LETTER_PERIOD_SECONDS,
            evaluation_periods=1,
            comparison_operator="GreaterThanThreshold",
            threshold=0,
            **sqs,
        )

    def _error_rate_alarms(self, topic: _Topic, edge_topic: _Topic) -> None:
        """5xx share at the ALB (pods and the balancer itself) and at CloudFront (every hop).

        CloudWatch alarms cannot combine regions, and CloudFront's metrics exist in us-east-1
        only, so each hop has an alarm of its own. No traffic is no error: missing data is fine.
        """
        balancer = pulumi.Output.from_input(self._args.edge.alb_arn).apply(load_balancer_dimension)
        alb = {"LoadBalancer": balancer}
        self._alarm(
            "error-rate-alb",
            alerts.ERROR_RATE,
            topic,
            metric_queries=[
                _metric_query("requests", "AWS/ApplicationELB", "RequestCount", alb, "Sum"),
                _metric_query(
                    "target", "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", alb, "Sum"
                ),
                _metric_query(
                    "balancer", "AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", alb, "Sum"
                ),
                _guarded_rate("100 * (FILL(target, 0) + FILL(balancer, 0)) / requests"),
            ],
            **_error_rate_window(),
        )
        cdn = {"DistributionId": self._args.edge.distribution_id, "Region": "Global"}
        self._alarm(
            "error-rate-cloudfront",
            alerts.ERROR_RATE,
            edge_topic,
            region=GLOBAL_REGION,
            metric_queries=[
                _metric_query("requests", "AWS/CloudFront", "Requests", cdn, "Sum"),
                _metric_query("errors", "AWS/CloudFront", "5xxErrorRate", cdn, "Average"),
                _guarded_rate("errors"),
            ],
            **_error_rate_window(),
        )

    def _certificate_alarms(self, topic: _Topic, edge_topic: _Topic) -> None:
        """Days to expiry of each certificate; silence is breaching, since ACM stops reporting a
        certificate once it has expired or been deleted while still in use."""
        for certificate in self._args.edge.certificates:
            in_us_east = certificate.region == GLOBAL_REGION
            self._alarm(
                f"certificate-expiry-{certificate.role}",
                alerts.CERTIFICATE_EXPIRY,
                edge_topic if in_us_east else topic,
                region=certificate.region,
                namespace="AWS/CertificateManager",
                metric_name="DaysToExpiry",
                dimensions={"CertificateArn": certificate.arn},
                statistic="Minimum",
                period=DAY_SECONDS,
                evaluation_periods=1,
                comparison_operator="LessThanThreshold",
                threshold=CERTIFICATE_DAYS_LEFT,
                treat_missing_data="breaching",
            )

    def _budget(self, topic: _Topic) -> None:
        """The monthly cost of the whole account: each stack has an account of its own."""
        notifications = [
            aws.budgets.BudgetNotificationArgs(
                notification_type=kind,
                comparison_operator="GREATER_THAN",
                threshold=percent,
                threshold_type="PERCENTAGE",
                subscriber_sns_topic_arns=topic.actions,
            )
            for kind, percent in BUDGET_THRESHOLDS
        ]
        aws.budgets.Budget(
            f"{self._name}-monthly",
            budget_type="COST",
            time_unit="MONTHLY",
            limit_amount=str(self._args.settings.monthly_budget_usd),
            limit_unit="USD",
            notifications=notifications,
            opts=self._owner.child(depends_on=topic.after()),
        )

    def _pod_role(self, role: str) -> aws.iam.Role:
        return aws.iam.Role(
            f"{self._name}-{role}",
            assume_role_policy=pod_identity_trust(),
            opts=self._owner.child(),
        )

    def _associate(
        self, role: aws.iam.Role, service_account: str, access: aws.iam.RolePolicy
    ) -> list[pulumi.Resource]:
        association = aws.eks.PodIdentityAssociation(
            f"{self._name}-{service_account}",
            cluster_name=self._args.cluster_name,
            namespace=MONITORING_NAMESPACE,
            service_account=service_account,
            role_arn=role.arn,
            opts=self._owner.child(),
        )
        return [association, access]

    def _alertmanager_access(self, role: aws.iam.Role, topic: _Topic) -> list[pulumi.Resource]:
        """Publish to the alert topic, and nothing else; an encrypted topic needs its key too."""
        access = aws.iam.RolePolicy(
            f"{self._name}-alertmanager-publish",
            role=role.id,
            policy=policy_document_output(
                [
                    allow("sns:Publish", topic.topic.arn, sid="PublishAlerts"),
                    allow(["kms:GenerateDataKey*", "kms:Decrypt"], topic.key.arn, sid="TopicKey"),
                ]
            ),
            opts=self._owner.child(),
        )
        return self._associate(role, ALERTMANAGER_SERVICE_ACCOUNT, access)

    def _grafana_access(self) -> list[pulumi.Resource]:
        role = self._pod_role("grafana")
        access = aws.iam.RolePolicy(
            f"{self._name}-grafana-cloudwatch",
            role=role.id,
            policy=policy_document_output(
                [
                    allow(GRAFANA_CLOUDWATCH_ACTIONS, "*", sid="ReadCloudWatch"),
                    # Contributor Insights reports are the one read that names its resource.
                    allow(
                        ["cloudwatch:GetInsightRuleReport"],
                        pulumi.Output.concat(
                            "arn:aws:cloudwatch:*:", self._account_id, ":insight-rule/*"
                        ),
                        sid="ReadInsightRules",
                    ),
                ]
            ),
            opts=self._owner.child(),
        )
        return self._associate(role, GRAFANA_SERVICE_ACCOUNT, access)

    def _prometheus_stack(
        self, topic: _Topic, region: pulumi.Output[str], identities: list[pulumi.Resource]
    ) -> k8s.helm.v3.Release:
        # node-exporter needs the host's network, PIDs and filesystem: `restricted` and even
        # `baseline` would reject it, so this namespace alone is privileged, and says so.
        namespace = k8s.core.v1.Namespace(
            f"{self._name}-monitoring-namespace",
            metadata={
                "name": MONITORING_NAMESPACE,
                "labels": {
                    "pod-security.kubernetes.io/enforce": "privileged",
                    "pod-security.kubernetes.io/warn": "baseline",
                },
            },
            opts=self._owner.k8s(),
        )
        storage = k8s.storage.v1.StorageClass(
            f"{self._name}-encrypted-gp3",
            metadata={"name": ENCRYPTED_STORAGE_CLASS},
            provisioner="ebs.csi.aws.com",
            parameters={"type": "gp3", "encrypted": "true"},
            reclaim_policy="Retain",
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            opts=self._owner.k8s(),
        )

        # Pod Identity hands credentials only to pods admitted after the association exists.
        return k8s.helm.v3.Release(
            f"{self._name}-prometheus",
            name=RELEASE_NAME,
            chart=PROMETHEUS_CHART,
            version=PROMETHEUS_CHART_VERSION,
            repository_opts={"repo": PROMETHEUS_CHART_REPOSITORY},
            namespace=namespace.metadata.name,
            values=prometheus_values(self._args.settings, topic.topic.arn, region),
            opts=self._owner.k8s(depends_on=[storage, *identities]),
        )

    def _monitors(self, release: k8s.helm.v3.Release) -> None:
        """Scrape KEDA's operator and the workers; the chart's selectors want the release label."""
        # KEDA's operator serves metrics because AsyncWorkers switches them on in its chart;
        # the workers' `/metrics` on port 8080 is part of the image contract in the handover.
        targets = [
            (
                "keda-monitor",
                KEDA_NAMESPACE,
                {"app": KEDA_OPERATOR_SERVICE_ACCOUNT},
                {"port": "metrics", "path": "/metrics"},
            ),
            (
                "worker-monitor",
                WORKLOAD_NAMESPACE,
                {"app.kubernetes.io/name": "worker"},
                {"targetPort": WORKER_HEALTH_PORT, "path": "/metrics"},
            ),
        ]
        for role, namespace, labels, endpoint in targets:
            k8s.apiextensions.CustomResource(
                f"{self._name}-{role}",
                api_version="monitoring.coreos.com/v1",
                kind="PodMonitor",
                metadata={"name": role, "namespace": namespace, "labels": RELEASE_LABELS},
                spec={
                    "selector": {"matchLabels": labels},
                    "namespaceSelector": {"matchNames": [namespace]},
                    "podMetricsEndpoints": [{**endpoint, "interval": "30s"}],
                },
                opts=self._owner.k8s(depends_on=[release]),
            )

    def _rules(self, release: k8s.helm.v3.Release) -> None:
        k8s.apiextensions.CustomResource(
            f"{self._name}-rules",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata={
                "name": alerts.RULE_GROUP,
                "namespace": MONITORING_NAMESPACE,
                "labels": RELEASE_LABELS,
            },
            spec={"groups": alerts.rule_groups(self._args.settings.runbook_url)},
            opts=self._owner.k8s(depends_on=[release]),
        )

    def _dashboard(
        self, release: k8s.helm.v3.Release, region: pulumi.Output[str]
    ) -> pulumi.Output[str]:
        """The dashboard as a ConfigMap that the chart's Grafana sidecar finds by its label."""
        args, settings = self._args, self._args.settings
        rendered = pulumi.Output.all(
            region,
            args.queue_name,
            args.dead_letter_queue_name,
            args.edge.alb_arn,
            args.edge.distribution_id,
        ).apply(lambda names: _render_dashboard(settings, [str(n) for n in names]))
        k8s.core.v1.ConfigMap(
            f"{self._name}-dashboard",
            metadata={
                "name": "matching-platform-dashboard",
                "namespace": MONITORING_NAMESPACE,
                "labels": {"grafana_dashboard": "1"},
            },
            data={DASHBOARD_FILE: rendered},
            opts=self._owner.k8s(depends_on=[release]),
        )
        return rendered


def _render_dashboard(settings: ObservabilitySettings, names: list[str]) -> str:
    region, queue, dead_letters, alb_arn, distribution = names
    return dashboard_json(
        DashboardSources(
            region=region,
            queue_name=queue,
            dead_letter_queue_name=dead_letters,
            load_balancer=load_balancer_dimension(alb_arn),
            distribution_id=distribution,
            monthly_budget_usd=settings.monthly_budget_usd,
            queue_depth_alarm=settings.queue_depth_alarm,
            oldest_message_sla_seconds=settings.oldest_message_sla_seconds,
        )
    )


def load_balancer_dimension(alb_arn: str) -> str:
    """CloudWatch names an ALB by the part of its ARN after `loadbalancer/` (`app/<name>/<id>`)."""
    return alb_arn.split(":loadbalancer/", 1)[-1]


def _metric_query(
    query_id: str, namespace: str, metric: str, dimensions: Mapping[str, Any], stat: str
) -> dict[str, Any]:
    return {
        "id": query_id,
        "return_data": False,
        "metric": {
            "namespace": namespace,
            "metric_name": metric,
            "dimensions": dimensions,
            "period": ERROR_RATE_PERIOD_SECONDS,
            "stat": stat,
        },
    }


def _guarded_rate(rate: str) -> dict[str, Any]:
    """The 5xx percentage, counted as zero while traffic is too thin for a share to mean much."""
    return {
        "id": "rate",
        "label": "5xx percent",
        "return_data": True,
        "expression": f"IF(requests >= {ERROR_RATE_MIN_REQUESTS}, {rate}, 0)",
    }


def _error_rate_window() -> dict[str, Any]:
    return {
        "evaluation_periods": ERROR_RATE_PERIODS,
        "datapoints_to_alarm": ERROR_RATE_BREACHING,
        "comparison_operator": "GreaterThanThreshold",
        "threshold": ERROR_RATE_PERCENT,
        "treat_missing_data": "notBreaching",
    }


def prometheus_values(
    settings: ObservabilitySettings, topic_arn: pulumi.Input[str], region: pulumi.Input[str]
) -> dict[str, Any]:
    """kube-prometheus-stack values: bounded encrypted storage, a private Grafana, SNS routing."""
    volume = settings.prometheus_volume_gib
    return {
        "prometheus": {
            "prometheusSpec": {
                "retention": f"{settings.prometheus_retention_days}d",
                # Prometheus' GB are powers of 1024, like the volume's Gi.
                "retentionSize": f"{int(volume * RETENTION_SHARE_OF_VOLUME)}GB",
                "storageSpec": _volume_claim(f"{volume}Gi"),
            }
        },
        "alertmanager": {
            "serviceAccount": {"create": True, "name": ALERTMANAGER_SERVICE_ACCOUNT},
            "alertmanagerSpec": {"storage": _volume_claim(ALERTMANAGER_VOLUME)},
            "config": alertmanager_config(topic_arn, region),
        },
        "grafana": _grafana_values(region),
        "kube-state-metrics": {"metricLabelsAllowlist": NODE_LABELS_ALLOWED},
    }


def alertmanager_config(topic_arn: pulumi.Input[str], region: pulumi.Input[str]) -> dict[str, Any]:
    """Every warning or critical alert to the SNS topic, signed with the pod's own role.

    Helm merges these maps into the chart's defaults (its inhibit rules stay) but replaces lists,
    so the routes and receivers here are the whole of them. The chart's Watchdog, which always
    fires to prove the pipeline works, and InfoInhibitor go nowhere.
    """
    return {
        "route": {
            "receiver": "null",
            "group_by": ["alertname", "namespace"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [
                {"receiver": "null", "matchers": ['alertname=~"Watchdog|InfoInhibitor"']},
                {"receiver": "alert-topic", "matchers": ['severity=~"critical|warning"']},
            ],
        },
        "receivers": [
            {"name": "null"},
            {
                "name": "alert-topic",
                "sns_configs": [
                    {
                        "topic_arn": topic_arn,
                        # No keys: the SDK's default chain picks up the Pod Identity credentials.
                        "sigv4": {"region": region},
                        # SNS cuts e-mail subjects at 100 characters and refuses line breaks.
                        "subject": "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}",
                        "send_resolved": True,
                    }
                ],
            },
        ],
    }


def _grafana_values(region: pulumi.Input[str]) -> dict[str, Any]:
    return {
        # Reached through `kubectl port-forward` only: no load balancer, no ingress.
        "service": {"type": "ClusterIP"},
        "ingress": {"enabled": False},
        # The chart's default is the well-known `prom-operator`; empty makes Grafana's chart
        # generate a random password into its Secret and keep it across upgrades.
        "adminPassword": "",
        "serviceAccount": {"create": True, "name": GRAFANA_SERVICE_ACCOUNT},
        "additionalDataSources": [
            {
                "name": "CloudWatch",
                "type": "cloudwatch",
                "uid": CLOUDWATCH_UID,
                "access": "proxy",
                "editable": False,
                # `default`: the AWS SDK chain, which finds the Pod Identity credentials.
                "jsonData": {"authType": "default", "defaultRegion": region},
            }
        ],
    }


def _volume_claim(size: str) -> dict[str, Any]:
    return {
        "volumeClaimTemplate": {
            "spec": {
                "storageClassName": ENCRYPTED_STORAGE_CLASS,
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": size}},
            }
        }
    }


def _topic_policy(
    topic_arn: pulumi.Output[str], account_id: pulumi.Output[str], alertmanager: aws.iam.Role | None
) -> pulumi.Output[str]:
    """Only CloudWatch and Budgets of this account, and Alertmanager's role, may publish."""
    statements = [
        Statement(
            Sid="AlertPublishersFromThisAccount",
            Effect="Allow",
            Principal={"Service": list(ALERT_PUBLISHERS)},
            Action="sns:Publish",
            Resource=topic_arn,
            Condition={"StringEquals": {"aws:SourceAccount": account_id}},
        ),
        Statement(
            Sid="DenyInsecureTransport",
            Effect="Deny",
            Principal={"AWS": "*"},
            Action="sns:*",
            Resource=topic_arn,
            Condition={"Bool": {"aws:SecureTransport": "false"}},
        ),
    ]
    if alertmanager is not None:
        statements.insert(
            1,
            Statement(
                Sid="AlertmanagerPublishes",
                Effect="Allow",
                Principal={"AWS": alertmanager.arn},
                Action="sns:Publish",
                Resource=topic_arn,
            ),
        )
    return policy_document_output(statements)


def plan_artifacts(resources: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, str]:
    """Files for the planner to write beside the plan: the dashboard JSON and the rule file.

    `resources` are the (type token, inputs) pairs the program registered; both files are read
    back from the objects that carry them, the dashboard's ConfigMap and the PrometheusRule, so
    each holds exactly what Grafana or Prometheus would load, runbook links included.
    """
    files: dict[str, str] = {}
    for token, inputs in resources:
        metadata = inputs.get("metadata", {})
        labels = metadata.get("labels", {})
        if token == "kubernetes:core/v1:ConfigMap" and labels.get("grafana_dashboard") == "1":
            files["dashboard.json"] = str(inputs["data"][DASHBOARD_FILE])
        if token == PROMETHEUS_RULE and metadata.get("name") == alerts.RULE_GROUP:
            files["prometheus-rules.yaml"] = alerts.rule_file(inputs["spec"]["groups"])
    return files
