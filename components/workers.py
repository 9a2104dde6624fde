"""The asynchronous half of the platform: the queue, the workers that drain it, and the API.

Records arrive through the API, wait in an SQS queue, and are matched by workers that KEDA scales
on the queue's depth; each job's status and result land in a DynamoDB table that the API reads.
The queues, the table and the LLM providers' secrets are encrypted with a key of our own. KEDA,
the API and the workers each read AWS through their own Pod Identity role, with exactly the
actions their part needs, so none holds a long-lived credential. The Kubernetes objects are in
`components.workloads`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components import workloads
from components.iam import Statement, allow, pod_identity_trust, policy_document_output
from components.jobs import DAY_SECONDS, JobStores, job_stores
from components.network_policies import network_policies
from components.owner import Owner
from components.settings import WorkerSettings
from components.workloads import WORKLOAD_NAMESPACE, ApiIngress, Pod, Scope

# Chart versions are pinned so that a plan today and a deploy next month install the same KEDA.
KEDA_CHART = "keda"
KEDA_CHART_REPOSITORY = "https://kedacore.github.io/charts"
KEDA_CHART_VERSION = "2.17.2"
# The chart's operator runs as this service account; the Pod Identity association names it.
KEDA_NAMESPACE = "keda"
KEDA_OPERATOR_SERVICE_ACCOUNT = "keda-operator"


# Once a workload has a replica, the HPA reads the metric every 15 s; KEDA's polling interval only
# decides how fast the workload wakes from zero.
POLLING_INTERVAL_SECONDS = 15
HPA_SYNC_SECONDS = 15
# The HPA refuses a stabilization window above one hour.
HPA_MAX_STABILIZATION_SECONDS = 3600
SCALE_DOWN_PODS_PER_MINUTE = 1


# Pod Security Admission at `restricted`: the API server rejects any pod that could escalate.
RESTRICTED_NAMESPACE_LABELS = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/audit": "restricted",
    "pod-security.kubernetes.io/warn": "restricted",
}
# The Load Balancer Controller's webhook adds a readiness gate to API pods in this namespace: a new
# pod counts as ready only once the ALB finds it healthy, so a rollout never empties the target
# group.
READINESS_GATE_LABELS = {"elbv2.k8s.aws/pod-readiness-gate-inject": "enabled"}


@dataclass(frozen=True)
class AsyncWorkersArgs:
    settings: WorkerSettings
    cluster_name: pulumi.Input[str]
    k8s_provider: k8s.Provider
    # The edge's target group and ALB security group, and the port its health checks use.
    target_group_arn: pulumi.Input[str]
    alb_security_group_id: pulumi.Input[str]
    api_port: int
    # The VPC's range: the source the API admits and the range egress to the internet excludes.
    vpc_cidr: str
    protect_state: bool


class AsyncWorkers(pulumi.ComponentResource):
    """Queue and dead letters, results table, provider secrets, KEDA, workers and the API."""

    queue_url: pulumi.Output[str]
    queue_arn: pulumi.Output[str]
    queue_name: pulumi.Output[str]
    dead_letter_queue_name: pulumi.Output[str]
    dead_letter_queue_arn: pulumi.Output[str]
    results_table_name: pulumi.Output[str]
    results_table_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: AsyncWorkersArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("matching:platform:AsyncWorkers", name, None, opts)
        self._name = name
        self._args = args
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account_id = aws.get_caller_identity_output(opts=invoke).account_id
        region = aws.get_region_output(opts=invoke).region

        self._owner = Owner(name, self, args.k8s_provider, protect_state=args.protect_state)
        stores = job_stores(self._owner, args.settings, account_id)
        keda = self._keda(stores.queue)

        namespace = self._namespace(
            f"{name}-namespace", WORKLOAD_NAMESPACE, READINESS_GATE_LABELS
        ).metadata.name
        scope = Scope(name, self, args.k8s_provider, namespace)
        env = _shared_env(stores, region)
        api_pod = Pod(self._api_identity(namespace, stores, region), env)
        worker_pod = Pod(
            self._worker_identity(namespace, stores, region), [*env, *self._worker_env(stores)]
        )
        worker, _ = workloads.worker_deployment(scope, args.settings, worker_pod)
        workloads.headroom(scope, args.settings)
        ingress = ApiIngress(args.target_group_arn, args.alb_security_group_id, args.api_port)
        workloads.api(scope, args.settings, api_pod, ingress)
        network_policies(scope, args.vpc_cidr, args.api_port)
        self._autoscaling(namespace, worker, keda, stores.queue, region)

        self.queue_url = stores.queue.url
        self.queue_arn = stores.queue.arn
        self.queue_name = stores.queue.name
        self.dead_letter_queue_name = stores.dead_letters.name
        self.dead_letter_queue_arn = stores.dead_letters.arn
        self.results_table_name = stores.table.name
        self.results_table_arn = stores.table.arn
        self.register_outputs(
            {
                "queue_url": self.queue_url,
                "queue_arn": self.queue_arn,
                "queue_name": self.queue_name,
                "dead_letter_queue_name": self.dead_letter_queue_name,
                "dead_letter_queue_arn": self.dead_letter_queue_arn,
                "results_table_name": self.results_table_name,
                "results_table_arn": self.results_table_arn,
            }
        )

    def _keda(self, queue: aws.sqs.Queue) -> k8s.helm.v3.Release:
        """KEDA, reading queue depth through its operator's own Pod Identity and nothing more."""
        identity = self._pod_role(
            "keda-operator",
            KEDA_NAMESPACE,
            KEDA_OPERATOR_SERVICE_ACCOUNT,
            [allow("sqs:GetQueueAttributes", queue.arn)],
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
            # The operator serves its scaler metrics (errors, the metric handed to the HPA)
            # only when asked; the dashboard's KEDA panels and the PodMonitor read them.
            values={"prometheus": {"operator": {"enabled": True, "port": 8080}}},
            opts=self._owner.k8s(depends_on=identity),
        )

    def _namespace(
        self, resource_name: str, name: str, labels: dict[str, str] | None = None
    ) -> k8s.core.v1.Namespace:
        return k8s.core.v1.Namespace(
            resource_name,
            metadata={"name": name, "labels": {**RESTRICTED_NAMESPACE_LABELS, **(labels or {})}},
            opts=self._owner.k8s(),
        )

    def _api_identity(
        self, namespace: pulumi.Input[str], stores: JobStores, region: pulumi.Output[str]
    ) -> pulumi.Output[str]:
        """The API's role: enqueue jobs and read their results, nothing else."""
        statements = [
            allow("sqs:SendMessage", stores.queue.arn, sid="EnqueueJobs"),
            allow(["dynamodb:GetItem", "dynamodb:Query"], stores.table.arn, sid="ReadResults"),
            _key_use(stores.key, region, ["sqs", "dynamodb"]),
        ]
        return self._service_account("api", namespace, statements)

    def _worker_identity(
        self, namespace: pulumi.Input[str], stores: JobStores, region: pulumi.Output[str]
    ) -> pulumi.Output[str]:
        """The workers' role: consume the queue, write results, read the providers' secrets."""
        consume = [
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:ChangeMessageVisibility",
            "sqs:GetQueueAttributes",
        ]
        statements = [
            allow(consume, stores.queue.arn, sid="ConsumeQueue"),
            allow(
                ["dynamodb:PutItem", "dynamodb:UpdateItem"], stores.table.arn, sid="WriteResults"
            ),
            allow(
                "secretsmanager:GetSecretValue",
                [secret.arn for secret in stores.secrets],
                sid="ReadProviderSecrets",
            ),
            _key_use(stores.key, region, ["sqs", "dynamodb", "secretsmanager"]),
        ]
        return self._service_account("worker", namespace, statements)

    def _worker_env(self, stores: JobStores) -> list[k8s.core.v1.EnvVarArgsDict]:
        settings = self._args.settings
        arns = (secret.arn for secret in stores.secrets)
        providers = dict(zip(settings.llm_providers, arns, strict=True))
        return [
            {"name": "RESULTS_TTL_SECONDS", "value": str(settings.results_ttl_days * DAY_SECONDS)},
            {"name": "LLM_SECRET_ARNS", "value": pulumi.Output.json_dumps(providers)},
        ]

    def _service_account(
        self, role: str, namespace: pulumi.Input[str], statements: Sequence[Statement]
    ) -> pulumi.Output[str]:
        """A service account whose pods get `role` from Pod Identity; its name, for pod specs."""
        account_name = f"{self._name}-{role}"
        identity = self._pod_role(role, WORKLOAD_NAMESPACE, account_name, statements)
        account = k8s.core.v1.ServiceAccount(
            f"{self._name}-{role}",
            metadata={"name": account_name, "namespace": namespace},
            # The Pod Identity agent mounts its own token; no pod here calls the API server.
            automount_service_account_token=False,
            opts=self._owner.k8s(depends_on=identity),
        )
        return account.metadata.name

    def _pod_role(
        self,
        role: str,
        namespace: str,
        service_account: str,
        statements: Sequence[Statement],
    ) -> list[pulumi.Resource]:
        """An IAM role that Pod Identity hands to one service account, with one inline policy.

        Returns what pods must wait for: credentials are handed only to pods admitted after the
        association exists, and are useless before the policy is attached.
        """
        iam_role = aws.iam.Role(
            f"{self._name}-{role}",
            assume_role_policy=pod_identity_trust(),
            opts=self._owner.child(),
        )
        access = aws.iam.RolePolicy(
            f"{self._name}-{role}-access",
            role=iam_role.id,
            policy=policy_document_output(statements),
            opts=self._owner.child(),
        )
        association = aws.eks.PodIdentityAssociation(
            f"{self._name}-{role}",
            cluster_name=self._args.cluster_name,
            namespace=namespace,
            service_account=service_account,
            role_arn=iam_role.arn,
            opts=self._owner.child(),
        )
        return [association, access]

    def _autoscaling(
        self,
        namespace: pulumi.Input[str],
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
            metadata={"name": authentication_name, "namespace": namespace},
            # `identityOwner: keda`: the operator's own role reads the queue, not the workers'.
            spec={"podIdentity": {"provider": "aws", "identityOwner": "keda"}},
            opts=self._owner.k8s(depends_on=[keda]),
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
            metadata={"name": f"{self._name}-worker", "namespace": namespace},
            spec={
                "scaleTargetRef": {"name": deployment.metadata.name},
                "pollingInterval": POLLING_INTERVAL_SECONDS,
                "cooldownPeriod": settings.cooldown_seconds,
                "minReplicaCount": settings.min_replicas,
                "maxReplicaCount": settings.max_replicas,
                "advanced": {"horizontalPodAutoscalerConfig": {"behavior": hpa_behavior(settings)}},
                "triggers": [trigger],
            },
            opts=self._owner.k8s(depends_on=[keda, authentication]),
        )


def worker_grace_period_seconds(settings: WorkerSettings) -> int:
    """The longest task plus time to give back a message, and still below the visibility timeout."""
    return settings.grace_period_seconds


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


def _key_use(key: aws.kms.Key, region: pulumi.Output[str], services: Sequence[str]) -> Statement:
    """The data key, only as the named services use it on the caller's behalf.

    SQS and Secrets Manager call KMS with the caller's own permissions (DynamoDB is granted them
    too, as the SDKs' grant helpers do); `kms:ViaService` keeps the role from decrypting anything
    directly with the key.
    """
    via = [pulumi.Output.concat(service, ".", region, ".amazonaws.com") for service in services]
    return allow(
        ["kms:Decrypt", "kms:GenerateDataKey"],
        key.arn,
        sid="UseDataKeyThroughServices",
        condition={"StringEquals": {"kms:ViaService": via}},
    )


def _shared_env(stores: JobStores, region: pulumi.Output[str]) -> list[k8s.core.v1.EnvVarArgsDict]:
    return [
        {"name": "QUEUE_URL", "value": stores.queue.url},
        {"name": "RESULTS_TABLE", "value": stores.table.name},
        {"name": "AWS_REGION", "value": region},
    ]
