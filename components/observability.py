"""The platform's watch: metrics in the cluster, alarms and budgets in AWS, and one alert topic.

Every alert, whether a CloudWatch alarm or a budget threshold, lands on a single SNS topic that
is encrypted with a key of our own and mails the on-call address. Prometheus and Grafana run in
the cluster with encrypted storage and no public endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.iam import Statement, policy_document_output
from components.settings import ObservabilitySettings

# The services that publish alerts. Each needs the topic policy to admit it and the topic key's
# policy to let it encrypt: the AWS-managed aws/sns key admits neither, so alarms would fail.
ALERT_PUBLISHERS = ("cloudwatch.amazonaws.com", "budgets.amazonaws.com")

# A backlog above the threshold for this long means workers cannot keep up, not a burst.
QUEUE_DEPTH_PERIOD_SECONDS = 60
QUEUE_DEPTH_SUSTAINED_PERIODS = 15
DEAD_LETTER_PERIOD_SECONDS = 300

# Budget notifications, as (kind, percent of the monthly limit).
BUDGET_THRESHOLDS = (("ACTUAL", 80), ("ACTUAL", 100), ("FORECASTED", 100))

PROMETHEUS_CHART = "kube-prometheus-stack"
PROMETHEUS_CHART_REPOSITORY = "https://prometheus-community.github.io/helm-charts"
PROMETHEUS_CHART_VERSION = "79.7.1"
MONITORING_NAMESPACE = "monitoring"
# TODO(#5): move retention and volume sizes into ObservabilitySettings.
PROMETHEUS_RETENTION = "15d"
PROMETHEUS_VOLUME = "50Gi"
# Below the volume size, so Prometheus drops old blocks before the disk fills and it stops.
PROMETHEUS_RETENTION_SIZE = "45GB"
ALERTMANAGER_VOLUME = "5Gi"
# gp3 through the EBS CSI driver, which the cluster must run; `encrypted` uses the account's EBS
# key. `Retain`: deleting the release must not delete the metrics history with it.
ENCRYPTED_STORAGE_CLASS = "encrypted-gp3"


@dataclass(frozen=True)
class ObservabilityArgs:
    settings: ObservabilitySettings
    queue_name: pulumi.Input[str]
    dead_letter_queue_name: pulumi.Input[str]
    k8s_provider: k8s.Provider


class Observability(pulumi.ComponentResource):
    """The alert topic, CloudWatch alarms on the queues, the budget, and kube-prometheus-stack."""

    alert_topic_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("matching:platform:Observability", name, None, opts)
        self._name = name
        self._args = args
        account_id = aws.get_caller_identity_output(
            opts=pulumi.InvokeOutputOptions(parent=self)
        ).account_id

        key = self._topic_key(account_id)
        topic, admitted = self._alert_topic(key, account_id)
        self._queue_alarms(topic, admitted)
        self._budget(topic, admitted)
        self._prometheus_stack()

        self.alert_topic_arn = topic.arn
        self.register_outputs({"alert_topic_arn": self.alert_topic_arn})

    def _child(self, **options: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **options)

    def _k8s(self, **options: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=self._args.k8s_provider, **options)

    def _topic_key(self, account_id: pulumi.Output[str]) -> aws.kms.Key:
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
            f"{self._name}-alerts-key",
            description=f"{self._name}: encrypts the alert topic",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=policy_document_output([administrators, publishers]),
            opts=self._child(),
        )
        aws.kms.Alias(
            f"{self._name}-alerts-key",
            name=f"alias/{self._name}-alerts",
            target_key_id=key.key_id,
            opts=self._child(),
        )
        return key

    def _alert_topic(
        self, key: aws.kms.Key, account_id: pulumi.Output[str]
    ) -> tuple[aws.sns.Topic, aws.sns.TopicPolicy]:
        topic = aws.sns.Topic(f"{self._name}-alerts", kms_master_key_id=key.arn, opts=self._child())
        admitted = aws.sns.TopicPolicy(
            f"{self._name}-alerts",
            arn=topic.arn,
            policy=_topic_policy(topic.arn, account_id),
            opts=self._child(),
        )

        # E-mail subscriptions stay pending until the address confirms the first message.
        aws.sns.TopicSubscription(
            f"{self._name}-alerts-email",
            topic=topic.arn,
            protocol="email",
            endpoint=self._args.settings.alert_email,
            opts=self._child(),
        )
        return topic, admitted

    def _queue_alarms(self, topic: aws.sns.Topic, admitted: aws.sns.TopicPolicy) -> None:
        """A sustained backlog on the queue, and any record at all in the dead-letter queue.

        Missing data is not breaching: SQS stops sending metrics for a queue that has been
        empty and untouched for six hours, and a queue holding messages always reports.
        """
        settings = self._args.settings
        aws.cloudwatch.MetricAlarm(
            f"{self._name}-queue-backlog",
            alarm_description="Workers are not keeping up: the matching queue stays deep.",
            namespace="AWS/SQS",
            metric_name="ApproximateNumberOfMessagesVisible",
            dimensions={"QueueName": self._args.queue_name},
            statistic="Maximum",
            period=QUEUE_DEPTH_PERIOD_SECONDS,
            evaluation_periods=QUEUE_DEPTH_SUSTAINED_PERIODS,
            datapoints_to_alarm=QUEUE_DEPTH_SUSTAINED_PERIODS,
            comparison_operator="GreaterThanThreshold",
            threshold=settings.queue_depth_alarm,
            treat_missing_data="notBreaching",
            alarm_actions=[topic.arn],
            ok_actions=[topic.arn],
            opts=self._child(depends_on=[admitted]),
        )
        aws.cloudwatch.MetricAlarm(
            f"{self._name}-dead-letters",
            alarm_description="Records failed every attempt and wait in the dead-letter queue.",
            namespace="AWS/SQS",
            metric_name="ApproximateNumberOfMessagesVisible",
            dimensions={"QueueName": self._args.dead_letter_queue_name},
            statistic="Maximum",
            period=DEAD_LETTER_PERIOD_SECONDS,
            evaluation_periods=1,
            comparison_operator="GreaterThanThreshold",
            threshold=0,
            treat_missing_data="notBreaching",
            alarm_actions=[topic.arn],
            ok_actions=[topic.arn],
            opts=self._child(depends_on=[admitted]),
        )

    def _budget(self, topic: aws.sns.Topic, admitted: aws.sns.TopicPolicy) -> None:
        """The monthly cost of the whole account: each stack has an account of its own."""
        notifications = [
            aws.budgets.BudgetNotificationArgs(
                notification_type=kind,
                comparison_operator="GREATER_THAN",
                threshold=percent,
                threshold_type="PERCENTAGE",
                subscriber_sns_topic_arns=[topic.arn],
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
            opts=self._child(depends_on=[admitted]),
        )

    def _prometheus_stack(self) -> k8s.helm.v3.Release:
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
            opts=self._k8s(),
        )
        storage = k8s.storage.v1.StorageClass(
            f"{self._name}-encrypted-gp3",
            metadata={"name": ENCRYPTED_STORAGE_CLASS},
            provisioner="ebs.csi.aws.com",
            parameters={"type": "gp3", "encrypted": "true"},
            reclaim_policy="Retain",
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            opts=self._k8s(),
        )
        return k8s.helm.v3.Release(
            f"{self._name}-prometheus",
            name="kube-prometheus-stack",
            chart=PROMETHEUS_CHART,
            version=PROMETHEUS_CHART_VERSION,
            repository_opts={"repo": PROMETHEUS_CHART_REPOSITORY},
            namespace=namespace.metadata.name,
            values=prometheus_values(),
            opts=self._k8s(depends_on=[storage]),
        )


def prometheus_values() -> dict[str, Any]:
    """kube-prometheus-stack values: bounded, encrypted storage and a Grafana nobody reaches."""
    return {
        "prometheus": {
            "prometheusSpec": {
                "retention": PROMETHEUS_RETENTION,
                "retentionSize": PROMETHEUS_RETENTION_SIZE,
                "storageSpec": _volume_claim(PROMETHEUS_VOLUME),
            }
        },
        "alertmanager": {"alertmanagerSpec": {"storage": _volume_claim(ALERTMANAGER_VOLUME)}},
        "grafana": {
            # Reached through `kubectl port-forward` only: no load balancer, no ingress.
            "service": {"type": "ClusterIP"},
            "ingress": {"enabled": False},
            # The chart's default is the well-known `prom-operator`; empty makes Grafana's chart
            # generate a random password into its Secret and keep it across upgrades.
            "adminPassword": "",
        },
        # TODO(#5): Alertmanager routes to the alert topic, PrometheusRules for the workers, and
        # the Grafana dashboard as code.
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
    topic_arn: pulumi.Output[str], account_id: pulumi.Output[str]
) -> pulumi.Output[str]:
    return policy_document_output(
        [
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
    )
