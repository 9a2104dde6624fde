"""AsyncWorkers under the mocks: the queue holds nothing in clear, and scaling never loses work."""

from __future__ import annotations

import json
from typing import Any

import pulumi_kubernetes as k8s
import pytest

from components.settings import StackSettings
from components.workers import (
    HPA_MAX_STABILIZATION_SECONDS,
    KEDA_CHART_REPOSITORY,
    KEDA_NAMESPACE,
    KEDA_OPERATOR_SERVICE_ACCOUNT,
    WORKLOAD_NAMESPACE,
    AsyncWorkers,
    AsyncWorkersArgs,
    hpa_behavior,
    worker_grace_period_seconds,
)
from tests.conftest import ComponentRunner, of_type, one
from tools.offline import ProgramRun
from tools.records import ResourceRecord

NAME = "matching"
# Every resource the component declares, so that an addition is a deliberate change here too.
CHILDREN = 21
COMPONENT = "matching:platform:AsyncWorkers"
CLUSTER = "matching-cluster"

KEY = "aws:kms/key:Key"
QUEUE = "aws:sqs/queue:Queue"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ASSOCIATION = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
RELEASE = "kubernetes:helm.sh/v3:Release"
NAMESPACE = "kubernetes:core/v1:Namespace"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject"


@pytest.fixture
def run(run_component: ComponentRunner, settings: StackSettings) -> ProgramRun:
    def body() -> None:
        provider = k8s.Provider("k8s", kubeconfig="{}")
        AsyncWorkers(
            NAME,
            AsyncWorkersArgs(
                settings=settings.workers,
                cluster_name=CLUSTER,
                k8s_provider=provider,
                target_group_arn="arn:aws:elasticloadbalancing:eu-central-1:1:targetgroup/api/1",
                protect_state=settings.is_production,
            ),
        )

    return run_component(body)


def queue(run: ProgramRun, role: str) -> ResourceRecord:
    return one(run, QUEUE, f"{NAME}-{role}")


def document(record: ResourceRecord, key: str = "policy") -> dict[str, Any]:
    return json.loads(record.inputs[key])


def scaled_object(run: ProgramRun) -> dict[str, Any]:
    return one(run, SCALED_OBJECT).inputs["spec"]


def pod_spec(run: ProgramRun) -> dict[str, Any]:
    return one(run, DEPLOYMENT).inputs["spec"]["template"]["spec"]


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


def test_queue_key_is_customer_managed_rotated_and_protected_in_prod(
    run: ProgramRun, settings: StackSettings
) -> None:
    key = one(run, KEY)

    assert key.inputs["enableKeyRotation"] is True, f"{key.urn} must rotate"
    assert key.protect is settings.is_production, f"{key.urn} protect"


@pytest.mark.parametrize("role", ["queue", "dead-letters"])
def test_queues_are_encrypted_with_the_key_and_protected_in_prod(
    run: ProgramRun, settings: StackSettings, role: str
) -> None:
    record = queue(run, role)
    key_arn = one(run, KEY).outputs["arn"]

    assert record.inputs["kmsMasterKeyId"] == key_arn, f"{record.urn} must use the queue CMK"
    assert "alias/aws/sqs" not in record.inputs["kmsMasterKeyId"], record.urn
    assert record.protect is settings.is_production, f"{record.urn} protect"


def test_failed_records_go_to_the_dead_letter_queue(
    run: ProgramRun, settings: StackSettings
) -> None:
    main, dead_letters = queue(run, "queue"), queue(run, "dead-letters")
    redrive = document(main, "redrivePolicy")
    allow = document(
        one(run, "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy"), "redriveAllowPolicy"
    )

    assert redrive == {
        "deadLetterTargetArn": dead_letters.outputs["arn"],
        "maxReceiveCount": settings.workers.max_receive_count,
    }, f"{main.urn} redrive policy"
    assert allow == {"redrivePermission": "byQueue", "sourceQueueArns": [main.outputs["arn"]]}
    assert dead_letters.inputs["messageRetentionSeconds"] == 14 * 24 * 3600, dead_letters.urn
    assert main.inputs["messageRetentionSeconds"] < dead_letters.inputs["messageRetentionSeconds"]


def test_visibility_outlasts_the_grace_period_which_outlasts_the_longest_task(
    run: ProgramRun, settings: StackSettings
) -> None:
    visibility = queue(run, "queue").inputs["visibilityTimeoutSeconds"]
    grace = pod_spec(run)["terminationGracePeriodSeconds"]
    longest = settings.workers.longest_task_seconds

    assert visibility == settings.workers.visibility_timeout_seconds
    assert visibility > grace > longest, (
        f"need visibility ({visibility}) > grace ({grace}) > longest task ({longest})"
    )


@pytest.mark.parametrize("role", ["queue", "dead-letters"])
def test_queues_refuse_plain_http(run: ProgramRun, role: str) -> None:
    target = queue(run, role)
    policy = one(run, QUEUE_POLICY, f"{NAME}-{role}-tls-only")

    assert policy.inputs["queueUrl"] == target.outputs["url"], policy.urn
    assert document(policy)["Statement"] == [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "sqs:*",
            "Resource": target.outputs["arn"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ], f"{policy.urn} must deny every non-TLS request"


@pytest.mark.parametrize(
    ("role", "namespace", "service_account"),
    [
        ("keda-operator", KEDA_NAMESPACE, KEDA_OPERATOR_SERVICE_ACCOUNT),
        ("worker", WORKLOAD_NAMESPACE, f"{NAME}-worker"),
    ],
)
def test_roles_are_handed_out_by_pod_identity_only(
    run: ProgramRun, role: str, namespace: str, service_account: str
) -> None:
    iam_role = one(run, ROLE, f"{NAME}-{role}")
    association = one(run, ASSOCIATION, f"{NAME}-{role}")
    (statement,) = document(iam_role, "assumeRolePolicy")["Statement"]

    assert statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}, iam_role.urn
    assert sorted(statement["Action"]) == ["sts:AssumeRole", "sts:TagSession"], iam_role.urn
    assert association.inputs["clusterName"] == CLUSTER, association.urn
    assert association.inputs["namespace"] == namespace, association.urn
    assert association.inputs["serviceAccount"] == service_account, association.urn
    assert association.inputs["roleArn"] == iam_role.outputs["arn"], association.urn


def test_keda_may_read_queue_attributes_and_nothing_else(run: ProgramRun) -> None:
    policy = one(run, ROLE_POLICY, f"{NAME}-keda-operator-queue")

    assert document(policy)["Statement"] == [
        {
            "Effect": "Allow",
            "Action": "sqs:GetQueueAttributes",
            "Resource": queue(run, "queue").outputs["arn"],
        }
    ], f"{policy.urn} must grant exactly sqs:GetQueueAttributes on the queue"


def test_workers_may_consume_the_queue_and_use_its_key(run: ProgramRun) -> None:
    policy = one(run, ROLE_POLICY, f"{NAME}-worker-queue")
    statements = {s["Sid"]: s for s in document(policy)["Statement"]}

    assert set(statements) == {"ConsumeQueue", "UseQueueKey"}, policy.urn
    assert sorted(statements["ConsumeQueue"]["Action"]) == [
        "sqs:ChangeMessageVisibility",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ReceiveMessage",
    ], policy.urn
    assert statements["ConsumeQueue"]["Resource"] == queue(run, "queue").outputs["arn"]
    assert sorted(statements["UseQueueKey"]["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert statements["UseQueueKey"]["Resource"] == one(run, KEY).outputs["arn"], policy.urn


def test_keda_is_a_pinned_chart_started_after_its_identity(run: ProgramRun) -> None:
    release = one(run, RELEASE, f"{NAME}-keda")
    association = one(run, ASSOCIATION, f"{NAME}-keda-operator")

    assert release.inputs["chart"] == "keda", release.urn
    assert release.inputs["repositoryOpts"] == {"repo": KEDA_CHART_REPOSITORY}, release.urn
    assert release.inputs["version"].startswith("2.17."), f"{release.urn} must pin KEDA 2.17"
    assert release.inputs["namespace"] == KEDA_NAMESPACE, release.urn
    assert association.urn in release.dependencies, f"{release.urn} must wait for Pod Identity"
    assert str(release.provider_urn).endswith("::k8s"), f"{release.urn} must use the cluster"


@pytest.mark.parametrize("namespace", [KEDA_NAMESPACE, WORKLOAD_NAMESPACE])
def test_namespaces_enforce_restricted_pod_security(run: ProgramRun, namespace: str) -> None:
    (record,) = [r for r in of_type(run, NAMESPACE) if r.inputs["metadata"]["name"] == namespace]

    assert record.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == (
        "restricted"
    ), record.urn


def test_keda_authenticates_as_its_own_operator(run: ProgramRun) -> None:
    auth = one(run, "kubernetes:keda.sh/v1alpha1:TriggerAuthentication")

    assert auth.inputs["spec"] == {"podIdentity": {"provider": "aws", "identityOwner": "keda"}}
    assert auth.inputs["metadata"]["namespace"] == WORKLOAD_NAMESPACE, auth.urn


def test_scaled_object_follows_the_settings(run: ProgramRun, settings: StackSettings) -> None:
    workers = settings.workers
    spec = scaled_object(run)
    (trigger,) = spec["triggers"]

    assert spec["scaleTargetRef"] == {"name": one(run, DEPLOYMENT).inputs["metadata"]["name"]}
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (
        workers.min_replicas,
        workers.max_replicas,
    )
    assert spec["cooldownPeriod"] == workers.cooldown_seconds
    assert trigger["type"] == "aws-sqs-queue"
    assert trigger["authenticationRef"] == {"name": f"{NAME}-queue"}
    assert trigger["metadata"] == {
        "queueURL": queue(run, "queue").outputs["url"],
        "queueLength": str(workers.messages_per_worker),
        "awsRegion": settings.region,
        "scaleOnInFlight": str(workers.scale_on_in_flight).lower(),
    }


def test_hpa_behaviour_carries_the_cooldown_and_scales_up_in_one_step(
    run: ProgramRun, settings: StackSettings
) -> None:
    workers = settings.workers
    behavior = scaled_object(run)["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    up, down = behavior["scaleUp"], behavior["scaleDown"]
    window = down["stabilizationWindowSeconds"]

    assert up["stabilizationWindowSeconds"] == 0
    assert up["policies"] == [{"type": "Pods", "value": workers.max_replicas, "periodSeconds": 15}]
    assert window == min(workers.cooldown_seconds, HPA_MAX_STABILIZATION_SECONDS)
    assert 0 < window <= HPA_MAX_STABILIZATION_SECONDS, "the HPA rejects windows above 3600 s"
    assert down["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 60}]


@pytest.mark.parametrize("cooldown", [0, 300, 3600, 7200, 86_400])
def test_scale_down_window_never_exceeds_the_hpa_cap(
    settings: StackSettings, cooldown: int
) -> None:
    workers = settings.workers.model_copy(update={"cooldown_seconds": cooldown})
    window = hpa_behavior(workers)["scaleDown"]["stabilizationWindowSeconds"]

    assert window == min(cooldown, HPA_MAX_STABILIZATION_SECONDS), f"cooldown {cooldown}"


@pytest.mark.parametrize("longest", [10, 60, 900])
def test_grace_period_fits_inside_visibility_for_any_allowed_task(
    settings: StackSettings, longest: int
) -> None:
    workers = settings.workers.model_copy(update={"longest_task_seconds": longest})
    grace = worker_grace_period_seconds(workers)

    assert longest < grace < workers.visibility_timeout_seconds, f"longest task {longest} s"


def test_worker_pod_is_restricted(run: ProgramRun) -> None:
    pod = pod_spec(run)
    (container,) = pod["containers"]
    context = container["securityContext"]

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert context["runAsNonRoot"] is True
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}


def test_worker_runs_the_pinned_image_with_the_queue_and_drains(
    run: ProgramRun, settings: StackSettings
) -> None:
    deployment = one(run, DEPLOYMENT)
    pod = pod_spec(run)
    (container,) = pod["containers"]
    env = {item["name"]: item["value"] for item in container["env"]}

    assert "replicas" not in deployment.inputs["spec"], f"{deployment.urn}: the HPA owns replicas"
    assert container["image"] == settings.workers.image
    assert env["QUEUE_URL"] == queue(run, "queue").outputs["url"]
    assert container["lifecycle"]["preStop"]["exec"]["command"][0] == "/bin/sh"
    assert {"requests", "limits"} <= set(container["resources"]), "requests and limits"
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert probe in container, f"{deployment.urn} lacks a {probe}"
    assert pod["serviceAccountName"] == f"{NAME}-worker"


def test_worker_disruptions_are_one_at_a_time(run: ProgramRun) -> None:
    budget = one(run, "kubernetes:policy/v1:PodDisruptionBudget")
    labels = one(run, DEPLOYMENT).inputs["spec"]["selector"]["matchLabels"]

    assert budget.inputs["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": labels}}
