"""The pods: restricted everywhere, workers never cut short, the API behind the ALB only."""

from __future__ import annotations

from typing import Any

import pytest

from components.settings import ContainerResources, StackSettings
from components.workloads import (
    DO_NOT_DISRUPT,
    PAUSE_IMAGE,
    WORKLOAD_NAMESPACE,
    container_resources,
)
from tests.components.async_workers_run import (
    ALB_SECURITY_GROUP,
    API_PORT,
    DEPLOYMENT,
    NAME,
    PRIORITY_CLASS,
    TARGET_GROUP,
    build,
    deployment,
    pod_spec,
    queue,
)
from tests.conftest import ComponentRunner, of_type, one
from tools.offline import ProgramRun

SERVICE = "kubernetes:core/v1:Service"
BUDGET = "kubernetes:policy/v1:PodDisruptionBudget"
BINDING = "kubernetes:elbv2.k8s.aws/v1beta1:TargetGroupBinding"


@pytest.fixture
def run(run_component: ComponentRunner, settings: StackSettings) -> ProgramRun:
    return run_component(build(settings))


def roles(settings: StackSettings) -> list[str]:
    """The Deployments of a stack: the placeholders exist only where headroom is kept."""
    return ["worker", "api", *(["headroom"] if settings.workers.headroom_pods else [])]


def resources(limits: ContainerResources) -> dict[str, Any]:
    return {
        "requests": {"cpu": limits.cpu_request, "memory": limits.memory_request},
        "limits": {"cpu": limits.cpu_limit, "memory": limits.memory_limit},
    }


def test_every_pod_is_restricted(run: ProgramRun, settings: StackSettings) -> None:
    for role in roles(settings):
        pod = pod_spec(run, role)
        (container,) = pod["containers"]
        context = container["securityContext"]

        assert pod["securityContext"]["runAsNonRoot"] is True, role
        assert pod["securityContext"]["runAsUser"] > 0, role
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, role
        assert pod["automountServiceAccountToken"] is False, role
        assert context == {
            "runAsNonRoot": True,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        }, f"{role} container security context"


def test_worker_runs_the_pinned_image_with_the_queue_and_drains(
    run: ProgramRun, settings: StackSettings
) -> None:
    record = deployment(run, "worker")
    pod = pod_spec(run, "worker")
    (container,) = pod["containers"]
    env = {item["name"]: item["value"] for item in container["env"]}

    assert "replicas" not in record.inputs["spec"], f"{record.urn}: the HPA owns replicas"
    assert container["image"] == settings.workers.image
    assert env["QUEUE_URL"] == queue(run, "queue").outputs["url"]
    assert env["RESULTS_TTL_SECONDS"] == str(settings.workers.results_ttl_days * 86_400)
    assert container["lifecycle"]["preStop"]["exec"]["command"][0] == "/bin/sh"
    assert container["resources"] == resources(settings.workers.worker_resources)
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert probe in container, f"{record.urn} lacks a {probe}"
    assert pod["serviceAccountName"] == f"{NAME}-worker"


def test_karpenter_leaves_busy_workers_alone(run: ProgramRun) -> None:
    template = deployment(run, "worker").inputs["spec"]["template"]

    assert template["metadata"]["annotations"] == DO_NOT_DISRUPT
    assert DO_NOT_DISRUPT == {"karpenter.sh/do-not-disrupt": "true"}


def test_api_runs_the_pinned_image_with_probes_and_a_graceful_stop(
    run: ProgramRun, settings: StackSettings
) -> None:
    record = deployment(run, "api")
    pod = pod_spec(run, "api")
    (container,) = pod["containers"]
    env = {item["name"] for item in container["env"]}

    assert record.inputs["spec"]["replicas"] == settings.workers.api_replicas, record.urn
    assert container["image"] == settings.workers.api_image
    assert container["ports"] == [{"name": "http", "containerPort": API_PORT, "protocol": "TCP"}]
    assert container["resources"] == resources(settings.workers.api_resources)
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": API_PORT}
    assert "startupProbe" in container, record.urn
    assert "livenessProbe" in container, record.urn
    sleep = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pod["terminationGracePeriodSeconds"] > sleep > 0, record.urn
    assert pod["serviceAccountName"] == f"{NAME}-api"
    assert {"QUEUE_URL", "RESULTS_TABLE", "AWS_REGION"} <= env


def test_api_service_is_cluster_internal(run: ProgramRun) -> None:
    service = one(run, SERVICE, f"{NAME}-api")
    labels = deployment(run, "api").inputs["spec"]["selector"]["matchLabels"]

    assert service.inputs["spec"]["type"] == "ClusterIP", f"{service.urn} must not be exposed"
    assert service.inputs["spec"]["selector"] == labels, service.urn
    assert service.inputs["spec"]["ports"] == [
        {"name": "http", "port": API_PORT, "targetPort": "http"}
    ]
    exposed = [r.urn for r in of_type(run, SERVICE) if r.inputs["spec"]["type"] != "ClusterIP"]
    assert exposed == [], f"only ClusterIP services: {exposed}"


def test_target_group_binding_registers_api_pod_ips_from_the_alb_only(run: ProgramRun) -> None:
    binding = one(run, BINDING, f"{NAME}-api-targets")

    assert binding.inputs["metadata"]["namespace"] == WORKLOAD_NAMESPACE, binding.urn
    assert binding.inputs["spec"] == {
        "serviceRef": {"name": f"{NAME}-api", "port": API_PORT},
        "targetGroupARN": TARGET_GROUP,
        "targetType": "ip",
        "networking": {
            "ingress": [
                {
                    "from": [{"securityGroup": {"groupID": ALB_SECURITY_GROUP}}],
                    "ports": [{"protocol": "TCP", "port": API_PORT}],
                }
            ]
        },
    }, binding.urn


@pytest.mark.parametrize("role", ["worker", "api"])
def test_disruptions_are_one_at_a_time(run: ProgramRun, role: str) -> None:
    budget = one(run, BUDGET, f"{NAME}-{role}")
    labels = deployment(run, role).inputs["spec"]["selector"]["matchLabels"]

    assert budget.inputs["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": labels}}


def test_headroom_placeholders_only_where_headroom_is_kept(
    run: ProgramRun, settings: StackSettings
) -> None:
    headroom = settings.workers.headroom_pods
    placeholders = [r for r in of_type(run, DEPLOYMENT) if r.name == f"{NAME}-headroom"]
    classes = {r.name: r.inputs for r in of_type(run, PRIORITY_CLASS)}

    assert (len(placeholders) == 1) is (headroom > 0), f"{settings.stack}: headroom {headroom}"
    assert (f"{NAME}-headroom" in classes) is (headroom > 0)
    assert classes[f"{NAME}-worker"]["value"] > 0, "workers sit above ordinary pods"


def test_placeholders_are_worker_sized_pause_pods_that_yield_to_everything(
    run: ProgramRun, settings: StackSettings
) -> None:
    if not settings.workers.headroom_pods:
        pytest.skip(f"{settings.stack} keeps no headroom")
    spec = deployment(run, "headroom").inputs["spec"]
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    priority = one(run, PRIORITY_CLASS, f"{NAME}-headroom").inputs
    worker_priority = one(run, PRIORITY_CLASS, f"{NAME}-worker").inputs

    assert spec["replicas"] == settings.workers.headroom_pods
    assert container["image"] == PAUSE_IMAGE
    assert "@sha256:" in PAUSE_IMAGE, "the pause image must be pinned by digest"
    assert container["resources"] == resources(settings.workers.worker_resources)
    assert pod["priorityClassName"] == f"{NAME}-headroom"
    assert priority["value"] < 0, "placeholders must yield to every ordinary pod"
    assert priority["preemptionPolicy"] == "Never", "placeholders never take room"
    assert worker_priority["value"] > priority["value"]
    assert pod_spec(run, "worker")["priorityClassName"] == f"{NAME}-worker"


def test_container_resources_carry_requests_and_limits() -> None:
    limits = ContainerResources(
        cpu_request="250m", memory_request="512Mi", cpu_limit="1", memory_limit="1Gi"
    )

    assert container_resources(limits) == resources(limits)
