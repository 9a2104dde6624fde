"""AsyncWorkers under the mocks: its children, its identities, and scaling that never loses work."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from components.settings import SettingsError, StackSettings, load_settings
from components.workers import (
    HPA_MAX_STABILIZATION_SECONDS,
    KEDA_CHART_REPOSITORY,
    KEDA_NAMESPACE,
    KEDA_OPERATOR_SERVICE_ACCOUNT,
    hpa_behavior,
)
from components.workloads import WORKLOAD_NAMESPACE
from tests.components.async_workers_run import (
    CLUSTER,
    COMPONENT,
    KEY,
    NAME,
    build,
    deployment,
    document,
    queue,
)
from tests.conftest import ComponentRunner, of_type, one, stack_settings
from tools.offline import ROOT, ProgramRun

# Every resource the component declares, so that an addition is a deliberate change here too;
# the headroom placeholders and their PriorityClass exist only where headroom is kept.
CHILDREN = 38
HEADROOM_CHILDREN = 2

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ASSOCIATION = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
RELEASE = "kubernetes:helm.sh/v3:Release"
NAMESPACE = "kubernetes:core/v1:Namespace"
SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject"


@pytest.fixture
def run(run_component: ComponentRunner, settings: StackSettings) -> ProgramRun:
    return run_component(build(settings))


def statements(run: ProgramRun, role: str) -> dict[str, dict[str, Any]]:
    policy = one(run, ROLE_POLICY, f"{NAME}-{role}-access")
    return {statement["Sid"]: statement for statement in document(policy)["Statement"]}


def key_use(run: ProgramRun, settings: StackSettings, services: list[str]) -> dict[str, Any]:
    return {
        "Sid": "UseDataKeyThroughServices",
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": one(run, KEY).outputs["arn"],
        "Condition": {
            "StringEquals": {
                "kms:ViaService": [f"{s}.{settings.region}.amazonaws.com" for s in services]
            }
        },
    }


def test_every_child_is_named_and_parented_by_the_component(
    run: ProgramRun, settings: StackSettings
) -> None:
    component = one(run, COMPONENT, NAME)
    children = [r for r in run.resources if r.parent == component.urn]
    strays = [
        r.urn
        for r in run.resources
        if not r.is_provider
        and r.type not in {COMPONENT, "pulumi:pulumi:Stack"}
        and r.parent != component.urn
    ]
    expected = CHILDREN + (HEADROOM_CHILDREN if settings.workers.headroom_pods else 0)

    assert len(children) == expected, f"expected {expected} children, found {len(children)}"
    assert strays == [], f"resources outside the component: {strays}"
    for child in children:
        assert child.name.startswith(f"{NAME}-"), f"{child.urn} is not named {NAME}-<role>"


@pytest.mark.parametrize(
    ("role", "namespace", "service_account"),
    [
        ("keda-operator", KEDA_NAMESPACE, KEDA_OPERATOR_SERVICE_ACCOUNT),
        ("worker", WORKLOAD_NAMESPACE, f"{NAME}-worker"),
        ("api", WORKLOAD_NAMESPACE, f"{NAME}-api"),
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


@pytest.mark.parametrize("role", ["worker", "api"])
def test_service_accounts_wait_for_their_identity_and_mount_no_token(
    run: ProgramRun, role: str
) -> None:
    account = one(run, SERVICE_ACCOUNT, f"{NAME}-{role}")
    association = one(run, ASSOCIATION, f"{NAME}-{role}")
    access = one(run, ROLE_POLICY, f"{NAME}-{role}-access")

    assert account.inputs["automountServiceAccountToken"] is False, account.urn
    assert {association.urn, access.urn} <= set(account.dependencies), account.urn


def test_keda_may_read_queue_attributes_and_nothing_else(run: ProgramRun) -> None:
    policy = one(run, ROLE_POLICY, f"{NAME}-keda-operator-access")

    assert document(policy)["Statement"] == [
        {
            "Effect": "Allow",
            "Action": "sqs:GetQueueAttributes",
            "Resource": queue(run, "queue").outputs["arn"],
        }
    ], f"{policy.urn} must grant exactly sqs:GetQueueAttributes on the queue"


def test_api_may_enqueue_and_read_results_and_nothing_else(
    run: ProgramRun, settings: StackSettings
) -> None:
    table = one(run, "aws:dynamodb/table:Table").outputs["arn"]

    assert statements(run, "api") == {
        "EnqueueJobs": {
            "Sid": "EnqueueJobs",
            "Effect": "Allow",
            "Action": "sqs:SendMessage",
            "Resource": queue(run, "queue").outputs["arn"],
        },
        "ReadResults": {
            "Sid": "ReadResults",
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:Query"],
            "Resource": table,
        },
        "UseDataKeyThroughServices": key_use(run, settings, ["sqs", "dynamodb"]),
    }


def test_workers_may_consume_write_results_and_read_exactly_the_provider_secrets(
    run: ProgramRun, settings: StackSettings
) -> None:
    table = one(run, "aws:dynamodb/table:Table").outputs["arn"]
    secrets = [r.outputs["arn"] for r in of_type(run, "aws:secretsmanager/secret:Secret")]
    granted = statements(run, "worker")
    read_secrets = granted.pop("ReadProviderSecrets")

    assert granted == {
        "ConsumeQueue": {
            "Sid": "ConsumeQueue",
            "Effect": "Allow",
            "Action": [
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:ChangeMessageVisibility",
                "sqs:GetQueueAttributes",
            ],
            "Resource": queue(run, "queue").outputs["arn"],
        },
        "WriteResults": {
            "Sid": "WriteResults",
            "Effect": "Allow",
            "Action": ["dynamodb:PutItem", "dynamodb:UpdateItem"],
            "Resource": table,
        },
        "UseDataKeyThroughServices": key_use(run, settings, ["sqs", "dynamodb", "secretsmanager"]),
    }
    assert read_secrets["Action"] == "secretsmanager:GetSecretValue"
    assert sorted(read_secrets["Resource"]) == sorted(secrets), "exactly the provider secrets"
    assert len(secrets) == len(settings.workers.llm_providers)


def test_keda_is_a_pinned_chart_started_after_its_identity(run: ProgramRun) -> None:
    release = one(run, RELEASE, f"{NAME}-keda")
    association = one(run, ASSOCIATION, f"{NAME}-keda-operator")

    assert release.inputs["chart"] == "keda", release.urn
    assert release.inputs["repositoryOpts"] == {"repo": KEDA_CHART_REPOSITORY}, release.urn
    assert release.inputs["version"].startswith("2.17."), f"{release.urn} must pin KEDA 2.17"
    assert release.inputs["namespace"] == KEDA_NAMESPACE, release.urn
    assert association.urn in release.dependencies, f"{release.urn} must wait for Pod Identity"
    assert str(release.provider_urn).endswith("::k8s"), f"{release.urn} must use the cluster"


def test_keda_serves_the_metrics_the_dashboard_reads(run: ProgramRun) -> None:
    release = one(run, RELEASE, f"{NAME}-keda")

    operator = release.inputs["values"]["prometheus"]["operator"]

    assert operator == {"enabled": True, "port": 8080}, release.urn


@pytest.mark.parametrize("namespace", [KEDA_NAMESPACE, WORKLOAD_NAMESPACE])
def test_namespaces_enforce_restricted_pod_security(run: ProgramRun, namespace: str) -> None:
    (record,) = [r for r in of_type(run, NAMESPACE) if r.inputs["metadata"]["name"] == namespace]

    assert record.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == (
        "restricted"
    ), record.urn


def test_workload_namespace_gates_api_readiness_on_the_target_group(run: ProgramRun) -> None:
    (record,) = [
        r for r in of_type(run, NAMESPACE) if r.inputs["metadata"]["name"] == WORKLOAD_NAMESPACE
    ]

    labels = record.inputs["metadata"]["labels"]
    assert labels["elbv2.k8s.aws/pod-readiness-gate-inject"] == "enabled", record.urn


def test_keda_authenticates_as_its_own_operator(run: ProgramRun) -> None:
    auth = one(run, "kubernetes:keda.sh/v1alpha1:TriggerAuthentication")

    assert auth.inputs["spec"] == {"podIdentity": {"provider": "aws", "identityOwner": "keda"}}
    assert auth.inputs["metadata"]["namespace"] == WORKLOAD_NAMESPACE, auth.urn


def test_scaled_object_follows_the_settings(run: ProgramRun, settings: StackSettings) -> None:
    workers = settings.workers
    spec = one(run, SCALED_OBJECT).inputs["spec"]
    (trigger,) = spec["triggers"]

    assert spec["scaleTargetRef"] == {"name": deployment(run, "worker").inputs["metadata"]["name"]}
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
    spec = one(run, SCALED_OBJECT).inputs["spec"]
    behavior = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
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


def test_headroom_is_kept_in_prod_only() -> None:
    staging, prod = stack_settings("staging").workers, stack_settings("prod").workers

    assert (staging.headroom_pods, prod.headroom_pods) == (0, 10)


BAD_WORKERS = [
    ("margin-reaches-visibility", {"shutdownMarginSeconds": 120}, "below the visibility timeout"),
    ("dead-letters-too-short", {"deadLetterRetentionDays": 9}, "at least 7"),
    ("headroom-above-max", {"headroomPods": 11}, "headroomPods (11) must be <= maxReplicas"),
    ("provider-twice", {"llmProviders": ["mistral", "mistral"]}, "twice"),
    ("provider-name", {"llmProviders": ["Mistral AI"]}, "lower-case name"),
    ("api-latest", {"apiImage": "repo.example.eu/api:latest"}, "pinned"),
    ("one-api-pod", {"apiReplicas": 1}, "greater than or equal to 2"),
    (
        "limit-below-request",
        {
            "workerResources": {
                "cpuRequest": "500m",
                "memoryRequest": "1Gi",
                "cpuLimit": "250m",
                "memoryLimit": "1Gi",
            }
        },
        "cpuLimit must be >= cpuRequest",
    ),
    (
        "bad-memory",
        {
            "apiResources": {
                "cpuRequest": "1",
                "memoryRequest": "1G",
                "cpuLimit": "1",
                "memoryLimit": "1Gi",
            }
        },
        "memory quantity",
    ),
]


@pytest.mark.parametrize(("change", "rule"), [pytest.param(c, r, id=i) for i, c, r in BAD_WORKERS])
def test_worker_settings_refuse_what_would_lose_work_or_leak(
    change: dict[str, Any], rule: str
) -> None:
    config = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]
    config["matching-platform:workers"] = {**config["matching-platform:workers"], **change}

    with pytest.raises(SettingsError, match=re.escape(rule)):
        load_settings("prod", config.get)
