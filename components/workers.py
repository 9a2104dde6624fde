"""The asynchronous half of the platform: the encrypted queue and the workers that drain it.

Records wait in an SQS queue encrypted with a key of our own, and workers scaled by KEDA on the
queue's depth match them. KEDA reads the queue through its operator's own Pod Identity, the
workers through theirs, so neither holds a long-lived credential.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.iam import Statement, allow, pod_identity_trust, policy_document_output
from components.settings import WorkerSettings

# Chart versions are pinned so that a plan today and a deploy next month install the same KEDA.
KEDA_CHART = "keda"
KEDA_CHART_REPOSITORY = "https://kedacore.github.io/charts"
KEDA_CHART_VERSION = "2.17.2"
# The chart's operator runs as this service account; the Pod Identity association names it.
KEDA_NAMESPACE = "keda"
KEDA_OPERATOR_SERVICE_ACCOUNT = "keda-operator"

WORKLOAD_NAMESPACE = "matching"

MAIN_QUEUE_RETENTION_SECONDS = 4 * 24 * 3600
# The SQS maximum: a poisoned record stays long enough to be examined and redriven.
DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600
# Long polling: an idle worker waits on the queue instead of paying for empty receives.
RECEIVE_WAIT_SECONDS = 20

# Time a worker gets after its longest task to give back what it holds and exit. The grace period
# stays below the visibility timeout, so a message held at shutdown is never seen by two workers.
SHUTDOWN_MARGIN_SECONDS = 30

# Once a workload has a replica, the HPA reads the metric every 15 s; KEDA's polling interval only
# decides how fast the workload wakes from zero.
POLLING_INTERVAL_SECONDS = 15
HPA_SYNC_SECONDS = 15
# The HPA refuses a stabilization window above one hour.
HPA_MAX_STABILIZATION_SECONDS = 3600
SCALE_DOWN_PODS_PER_MINUTE = 1

# Worker container contract (TODO(#4): move these into WorkerSettings): health on HTTP, and the
# drain protocol of the preStop hook below.
WORKER_HEALTH_PORT = 8080
WORKER_DRAIN_FILE = "/tmp/drain"
WORKER_BUSY_FILE = "/tmp/busy"
WORKER_RESOURCES: k8s.core.v1.ResourceRequirementsArgsDict = {
    "requests": {"cpu": "250m", "memory": "512Mi"},
    "limits": {"cpu": "1", "memory": "1Gi"},
}
# An unprivileged numeric user, so `runAsNonRoot` can be verified whatever the image declares.
WORKER_UID = 10001

# Pod Security Admission at `restricted`: the API server rejects any pod that could escalate.
RESTRICTED_NAMESPACE_LABELS = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/audit": "restricted",
    "pod-security.kubernetes.io/warn": "restricted",
}


@dataclass(frozen=True)
class AsyncWorkersArgs:
    settings: WorkerSettings
    cluster_name: pulumi.Input[str]
    k8s_provider: k8s.Provider
    # TODO(#4): the API Deployment, its Service and the TargetGroupBinding into this target group.
    target_group_arn: pulumi.Input[str]
    protect_state: bool


class AsyncWorkers(pulumi.ComponentResource):
    """An encrypted SQS queue with its dead-letter queue, KEDA, and the workers it scales."""

    queue_url: pulumi.Output[str]
    queue_arn: pulumi.Output[str]
    queue_name: pulumi.Output[str]
    dead_letter_queue_name: pulumi.Output[str]
    dead_letter_queue_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: AsyncWorkersArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("matching:platform:AsyncWorkers", name, None, opts)
        self._name = name
        self._args = args
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account_id = aws.get_caller_identity_output(opts=invoke).account_id
        region = aws.get_region_output(opts=invoke).region

        key = self._queue_key(account_id)
        dead_letters, queue = self._queues(key)
        keda = self._keda(queue)
        namespace = self._namespace(f"{name}-namespace", WORKLOAD_NAMESPACE)
        service_account = self._worker_identity(namespace, queue, key)
        deployment = self._worker_deployment(namespace, service_account, queue, region)
        self._autoscaling(namespace, deployment, keda, queue, region)

        self.queue_url = queue.url
        self.queue_arn = queue.arn
        self.queue_name = queue.name
        self.dead_letter_queue_name = dead_letters.name
        self.dead_letter_queue_arn = dead_letters.arn
        self.register_outputs(
            {
                "queue_url": self.queue_url,
                "queue_arn": self.queue_arn,
                "queue_name": self.queue_name,
                "dead_letter_queue_name": self.dead_letter_queue_name,
                "dead_letter_queue_arn": self.dead_letter_queue_arn,
            }
        )

    def _child(self, **options: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **options)

    def _k8s(self, **options: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=self._args.k8s_provider, **options)

    def _queue_key(self, account_id: pulumi.Output[str]) -> aws.kms.Key:
        """A key of our own: the aws/sqs key's policy can't be edited, nor its deletion governed."""
        administrators = Statement(
            Sid="AccountAdministersThroughIam",
            Effect="Allow",
            Principal={"AWS": pulumi.Output.concat("arn:aws:iam::", account_id, ":root")},
            Action="kms:*",
            Resource="*",
        )
        key = aws.kms.Key(
            f"{self._name}-queue-key",
            description=f"{self._name}: encrypts the matching queue and its dead letters",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=policy_document_output([administrators]),
            opts=self._child(protect=self._args.protect_state),
        )
        aws.kms.Alias(
            f"{self._name}-queue-key",
            name=f"alias/{self._name}-queues",
            target_key_id=key.key_id,
            opts=self._child(),
        )
        return key

    def _queues(self, key: aws.kms.Key) -> tuple[aws.sqs.Queue, aws.sqs.Queue]:
        settings = self._args.settings
        protect = self._child(protect=self._args.protect_state)
        dead_letters = aws.sqs.Queue(
            f"{self._name}-dead-letters",
            kms_master_key_id=key.arn,
            message_retention_seconds=DEAD_LETTER_RETENTION_SECONDS,
            visibility_timeout_seconds=settings.visibility_timeout_seconds,
            opts=protect,
        )
        queue = aws.sqs.Queue(
            f"{self._name}-queue",
            kms_master_key_id=key.arn,
            message_retention_seconds=MAIN_QUEUE_RETENTION_SECONDS,
            receive_wait_time_seconds=RECEIVE_WAIT_SECONDS,
            # Derived from the longest LLM task: a record still being matched never reappears.
            visibility_timeout_seconds=settings.visibility_timeout_seconds,
            redrive_policy=pulumi.Output.json_dumps(
                {
                    "deadLetterTargetArn": dead_letters.arn,
                    "maxReceiveCount": settings.max_receive_count,
                }
            ),
            opts=protect,
        )

        # Set on its own resource: the queue needs the dead-letter ARN and this policy the queue's.
        aws.sqs.RedriveAllowPolicy(
            f"{self._name}-dead-letters-sources",
            queue_url=dead_letters.url,
            redrive_allow_policy=pulumi.Output.json_dumps(
                {"redrivePermission": "byQueue", "sourceQueueArns": [queue.arn]}
            ),
            opts=self._child(),
        )
        for role, target in (("queue", queue), ("dead-letters", dead_letters)):
            aws.sqs.QueuePolicy(
                f"{self._name}-{role}-tls-only",
                queue_url=target.url,
                policy=_tls_only(target.arn),
                opts=self._child(),
            )
        return dead_letters, queue

    def _keda(self, queue: aws.sqs.Queue) -> k8s.helm.v3.Release:
        """KEDA, reading queue depth through its operator's own Pod Identity and nothing more."""
        role = aws.iam.Role(
            f"{self._name}-keda-operator",
            assume_role_policy=pod_identity_trust(),
            opts=self._child(),
        )
        access = aws.iam.RolePolicy(
            f"{self._name}-keda-operator-queue",
            role=role.id,
            policy=policy_document_output([allow("sqs:GetQueueAttributes", queue.arn)]),
            opts=self._child(),
        )
        association = aws.eks.PodIdentityAssociation(
            f"{self._name}-keda-operator",
            cluster_name=self._args.cluster_name,
            namespace=KEDA_NAMESPACE,
            service_account=KEDA_OPERATOR_SERVICE_ACCOUNT,
            role_arn=role.arn,
            opts=self._child(),
        )
        namespace = self._namespace(f"{self._name}-keda-namespace", KEDA_NAMESPACE)

        # Pod Identity hands credentials to pods admitted after the association exists, so the
        # operator must not start before it (nor before its policy, or its first reads fail).
        return k8s.helm.v3.Release(
            f"{self._name}-keda",
            name="keda",
            chart=KEDA_CHART,
            version=KEDA_CHART_VERSION,
            repository_opts={"repo": KEDA_CHART_REPOSITORY},
            # The chart's own pods already satisfy the namespace's `restricted` level.
            namespace=namespace.metadata.name,
            opts=self._k8s(depends_on=[association, access]),
        )

    def _namespace(self, resource_name: str, name: str) -> k8s.core.v1.Namespace:
        return k8s.core.v1.Namespace(
            resource_name,
            metadata={"name": name, "labels": RESTRICTED_NAMESPACE_LABELS},
            opts=self._k8s(),
        )

    def _worker_identity(
        self, namespace: k8s.core.v1.Namespace, queue: aws.sqs.Queue, key: aws.kms.Key
    ) -> k8s.core.v1.ServiceAccount:
        """The workers' own role: consume this queue, and use its key, nothing else."""
        account_name = f"{self._name}-worker"
        role = aws.iam.Role(
            f"{self._name}-worker", assume_role_policy=pod_identity_trust(), opts=self._child()
        )
        consume = [
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:ChangeMessageVisibility",
            "sqs:GetQueueAttributes",
        ]
        access = aws.iam.RolePolicy(
            f"{self._name}-worker-queue",
            role=role.id,
            policy=policy_document_output(
                [
                    allow(consume, queue.arn, sid="ConsumeQueue"),
                    allow(["kms:Decrypt", "kms:GenerateDataKey"], key.arn, sid="UseQueueKey"),
                ]
            ),
            opts=self._child(),
        )
        association = aws.eks.PodIdentityAssociation(
            f"{self._name}-worker",
            cluster_name=self._args.cluster_name,
            namespace=WORKLOAD_NAMESPACE,
            service_account=account_name,
            role_arn=role.arn,
            opts=self._child(),
        )
        return k8s.core.v1.ServiceAccount(
            f"{self._name}-worker",
            metadata={"name": account_name, "namespace": namespace.metadata.name},
            # The Pod Identity agent mounts its own token; the worker never calls the API server.
            automount_service_account_token=False,
            opts=self._k8s(depends_on=[association, access]),
        )

    def _worker_deployment(
        self,
        namespace: k8s.core.v1.Namespace,
        service_account: k8s.core.v1.ServiceAccount,
        queue: aws.sqs.Queue,
        region: pulumi.Output[str],
    ) -> k8s.apps.v1.Deployment:
        labels = self._worker_labels()
        deployment = k8s.apps.v1.Deployment(
            f"{self._name}-worker",
            metadata={"name": f"{self._name}-worker", "namespace": namespace.metadata.name},
            spec={
                # No `replicas`: the HPA that KEDA makes owns the count, and a value here would
                # reset it on every update.
                "selector": {"match_labels": labels},
                "strategy": {
                    "type": "RollingUpdate",
                    "rolling_update": {"max_unavailable": 0, "max_surge": "25%"},
                },
                "template": {
                    "metadata": {"labels": labels},
                    "spec": self._worker_pod(service_account, queue, region),
                },
            },
            opts=self._k8s(),
        )

        # One voluntary eviction at a time (node drains, Karpenter consolidation); the evicted
        # worker still finishes its message within the grace period.
        k8s.policy.v1.PodDisruptionBudget(
            f"{self._name}-worker",
            metadata={"name": f"{self._name}-worker", "namespace": namespace.metadata.name},
            spec={"max_unavailable": 1, "selector": {"match_labels": labels}},
            opts=self._k8s(),
        )
        return deployment

    def _worker_labels(self) -> dict[str, str]:
        return {"app.kubernetes.io/name": "worker", "app.kubernetes.io/instance": self._name}

    def _worker_pod(
        self,
        service_account: k8s.core.v1.ServiceAccount,
        queue: aws.sqs.Queue,
        region: pulumi.Output[str],
    ) -> k8s.core.v1.PodSpecArgsDict:
        settings = self._args.settings
        env: list[k8s.core.v1.EnvVarArgsDict] = [
            {"name": "QUEUE_URL", "value": queue.url},
            {"name": "AWS_REGION", "value": region},
            {"name": "WORKER_DRAIN_FILE", "value": WORKER_DRAIN_FILE},
            {"name": "WORKER_BUSY_FILE", "value": WORKER_BUSY_FILE},
        ]
        return {
            "service_account_name": service_account.metadata.name,
            "automount_service_account_token": False,
            # With `scaleOnInFlight: false` the HPA may stop a busy worker: it gets the whole
            # longest task to finish before the kubelet kills it.
            "termination_grace_period_seconds": worker_grace_period_seconds(settings),
            "security_context": {
                "run_as_non_root": True,
                "run_as_user": WORKER_UID,
                "run_as_group": WORKER_UID,
                "fs_group": WORKER_UID,
                "seccomp_profile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "worker",
                    "image": settings.image,
                    "env": env,
                    "resources": WORKER_RESOURCES,
                    "security_context": _restricted_container(),
                    "lifecycle": {"pre_stop": {"exec_": {"command": _drain_command()}}},
                    "startup_probe": _http_probe("/healthz", failures=30),
                    "liveness_probe": _http_probe("/healthz", failures=3),
                    "readiness_probe": _http_probe("/readyz", failures=1),
                    "volume_mounts": [{"name": "tmp", "mount_path": "/tmp"}],
                }
            ],
            # The root filesystem is read-only; the drain markers and scratch files live here.
            "volumes": [{"name": "tmp", "empty_dir": {"size_limit": "64Mi"}}],
        }

    def _autoscaling(
        self,
        namespace: k8s.core.v1.Namespace,
        deployment: k8s.apps.v1.Deployment,
        keda: k8s.helm.v3.Release,
        queue: aws.sqs.Queue,
        region: pulumi.Output[str],
    ) -> None:
        settings = self._args.settings
        authentication_name = f"{self._name}-queue"
        authentication = k8s.apiextensions.CustomResource(
            f"{self._name}-queue-auth",
            api_version="keda.sh/v1alpha1",
            kind="TriggerAuthentication",
            metadata={"name": authentication_name, "namespace": namespace.metadata.name},
            # `identityOwner: keda`: the operator's own role reads the queue, not the workers'.
            spec={"podIdentity": {"provider": "aws", "identityOwner": "keda"}},
            opts=self._k8s(depends_on=[keda]),
        )
        trigger = {
            "type": "aws-sqs-queue",
            "authenticationRef": {"name": authentication_name},
            # KEDA reads trigger metadata as strings only.
            "metadata": {
                "queueURL": queue.url,
                "queueLength": str(settings.messages_per_worker),
                "awsRegion": region,
                "scaleOnInFlight": "true" if settings.scale_on_in_flight else "false",
            },
        }
        k8s.apiextensions.CustomResource(
            f"{self._name}-worker-scaler",
            api_version="keda.sh/v1alpha1",
            kind="ScaledObject",
            metadata={"name": f"{self._name}-worker", "namespace": namespace.metadata.name},
            spec={
                "scaleTargetRef": {"name": deployment.metadata.name},
                "pollingInterval": POLLING_INTERVAL_SECONDS,
                "cooldownPeriod": settings.cooldown_seconds,
                "minReplicaCount": settings.min_replicas,
                "maxReplicaCount": settings.max_replicas,
                "advanced": {"horizontalPodAutoscalerConfig": {"behavior": hpa_behavior(settings)}},
                "triggers": [trigger],
            },
            opts=self._k8s(depends_on=[keda, authentication]),
        )


def worker_grace_period_seconds(settings: WorkerSettings) -> int:
    """The longest task plus time to give back a message, and still below the visibility timeout."""
    return settings.longest_task_seconds + SHUTDOWN_MARGIN_SECONDS


def hpa_behavior(settings: WorkerSettings) -> dict[str, Any]:
    """Fast up, slow down: the HPA behaviour that carries the cooldown when replicas stay >= 1.

    KEDA's `cooldownPeriod` only governs the step to zero; from N down to a minimum of one the HPA
    decides alone, so the cooldown is repeated here as the scale-down stabilization window, capped
    at the HPA's one-hour maximum. Scale-up may add every missing worker in one 15 s sync instead of
    the default 4 pods or 100 %, because a queued record waits on a worker that does not exist yet.
    """
    return {
        "scaleUp": {
            "stabilizationWindowSeconds": 0,
            "selectPolicy": "Max",
            "policies": [
                {"type": "Pods", "value": settings.max_replicas, "periodSeconds": HPA_SYNC_SECONDS}
            ],
        },
        "scaleDown": {
            "stabilizationWindowSeconds": min(
                settings.cooldown_seconds, HPA_MAX_STABILIZATION_SECONDS
            ),
            "selectPolicy": "Min",
            "policies": [
                {"type": "Pods", "value": SCALE_DOWN_PODS_PER_MINUTE, "periodSeconds": 60}
            ],
        },
    }


def _tls_only(queue_arn: pulumi.Output[str]) -> pulumi.Output[str]:
    return policy_document_output(
        [
            Statement(
                Sid="DenyInsecureTransport",
                Effect="Deny",
                Principal={"AWS": "*"},
                Action="sqs:*",
                Resource=queue_arn,
                Condition={"Bool": {"aws:SecureTransport": "false"}},
            )
        ]
    )


def _restricted_container() -> k8s.core.v1.SecurityContextArgsDict:
    return {
        "run_as_non_root": True,
        "read_only_root_filesystem": True,
        "allow_privilege_escalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccomp_profile": {"type": "RuntimeDefault"},
    }


def _drain_command() -> list[str]:
    """Ask the worker to stop receiving, then wait while it still holds a message.

    The kubelet sends SIGTERM only once this returns, and the whole hook counts against the grace
    period; a worker that ignores the marker just gets SIGTERM at once and must give its message
    back (ChangeMessageVisibility to 0) before it exits.
    """
    script = f"touch {WORKER_DRAIN_FILE}; while [ -e {WORKER_BUSY_FILE} ]; do sleep 1; done"
    return ["/bin/sh", "-c", script]


def _http_probe(path: str, *, failures: int) -> k8s.core.v1.ProbeArgsDict:
    return {
        "http_get": {"path": path, "port": WORKER_HEALTH_PORT},
        "period_seconds": 10,
        "timeout_seconds": 2,
        "failure_threshold": failures,
    }
