"""The Kubernetes side of AsyncWorkers: the worker and API pods, and spare room for bursts.

Every pod here passes Pod Security Admission at `restricted`. Workers are never cut short: they
drain before they stop and Karpenter leaves their nodes alone while they run. The API is reached
only from the ALB through a ClusterIP Service that a TargetGroupBinding puts in its target group.
Everything else in the namespace is denied, in and out (see `components.network_policies`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.settings import ContainerResources, WorkerSettings

WORKLOAD_NAMESPACE = "matching"

# The worker image's contract, the same in every stack: health on HTTP, and the drain protocol of
# the preStop hook below. A change here is a change of the image, not of a stack.
WORKER_HEALTH_PORT = 8080
WORKER_DRAIN_FILE = "/tmp/drain"
WORKER_BUSY_FILE = "/tmp/busy"
# Unprivileged numeric users, so `runAsNonRoot` can be verified whatever the image declares.
APP_UID = 10001
# `registry.k8s.io/pause` runs as this user; the digest pins the multi-arch 3.10 index.
PAUSE_IMAGE = (
    "registry.k8s.io/pause:3.10"
    "@sha256:ee6521f290b2168b6e0935a181d4cff9be1ac3f505666ef0e3c98fae8199917a"
)
PAUSE_UID = 65535

# Placeholders sit below every ordinary pod (priority 0), so the scheduler evicts them for any
# pending worker or API pod; workers sit above ordinary pods and never wait behind them.
WORKER_PRIORITY = 1000
HEADROOM_PRIORITY = -10

# Karpenter does not voluntarily disrupt (consolidate, replace on drift) a node running such a pod;
# forceful disruption (expiry, spot interruption, node repair) still ends it.
DO_NOT_DISRUPT = {"karpenter.sh/do-not-disrupt": "true"}

# The Load Balancer Controller de-registers a stopping API pod from the target group
# asynchronously; the pod keeps serving this long so the ALB stops sending first.
API_DEREGISTRATION_SECONDS = 15
API_GRACE_SECONDS = API_DEREGISTRATION_SECONDS + 30


@dataclass(frozen=True)
class Scope:
    """Where the component's Kubernetes objects go: name prefix, parent, cluster and namespace."""

    name: str
    parent: pulumi.Resource
    provider: k8s.Provider
    namespace: pulumi.Input[str]

    def opts(self, **options: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self.parent, provider=self.provider, **options)

    def metadata(self, role: str) -> k8s.meta.v1.ObjectMetaArgsDict:
        return {"name": f"{self.name}-{role}", "namespace": self.namespace}

    def labels(self, role: str) -> dict[str, str]:
        return {"app.kubernetes.io/name": role, "app.kubernetes.io/instance": self.name}


@dataclass(frozen=True)
class Pod:
    """What a workload's pods need from the AWS side: their account and their environment."""

    service_account: pulumi.Input[str]
    env: Sequence[k8s.core.v1.EnvVarArgsDict]


# --- workers ---------------------------------------------------------------------------------


def worker_deployment(
    scope: Scope, settings: WorkerSettings, pod: Pod
) -> tuple[k8s.apps.v1.Deployment, k8s.scheduling.v1.PriorityClass]:
    """The KEDA-scaled workers, above the placeholders in priority, drained one at a time."""
    priority = k8s.scheduling.v1.PriorityClass(
        f"{scope.name}-worker",
        metadata={"name": f"{scope.name}-worker"},
        value=WORKER_PRIORITY,
        global_default=False,
        preemption_policy="PreemptLowerPriority",
        description="Matching workers: preempt headroom placeholders and ordinary pods",
        opts=scope.opts(),
    )
    labels = scope.labels("worker")
    deployment = k8s.apps.v1.Deployment(
        f"{scope.name}-worker",
        metadata=scope.metadata("worker"),
        spec={
            # No `replicas`: the HPA that KEDA makes owns the count, and a value here would
            # reset it on every update.
            "selector": {"match_labels": labels},
            "strategy": {
                "type": "RollingUpdate",
                "rolling_update": {"max_unavailable": 0, "max_surge": "25%"},
            },
            "template": {
                # A busy worker would lose its LLM call to a consolidation or drift replacement,
                # so Karpenter must leave its node alone. The price: a node keeps running (and
                # billing) until its workers exit, which the HPA's slow scale-down decides, and
                # drift fixes such as a new AMI wait for them too. Spot interruptions and node
                # failures still happen; the drain and the visibility timeout cover those.
                "metadata": {"labels": labels, "annotations": DO_NOT_DISRUPT},
                "spec": worker_pod(settings, pod, priority.metadata.name),
            },
        },
        opts=scope.opts(),
    )

    # One voluntary eviction at a time (node drains); the evicted worker still finishes its
    # message within the grace period.
    k8s.policy.v1.PodDisruptionBudget(
        f"{scope.name}-worker",
        metadata=scope.metadata("worker"),
        spec={"max_unavailable": 1, "selector": {"match_labels": labels}},
        opts=scope.opts(),
    )
    return deployment, priority


def worker_pod(
    settings: WorkerSettings, pod: Pod, priority_class: pulumi.Input[str]
) -> k8s.core.v1.PodSpecArgsDict:
    env: list[k8s.core.v1.EnvVarArgsDict] = [
        *pod.env,
        {"name": "WORKER_DRAIN_FILE", "value": WORKER_DRAIN_FILE},
        {"name": "WORKER_BUSY_FILE", "value": WORKER_BUSY_FILE},
    ]
    return {
        "service_account_name": pod.service_account,
        "automount_service_account_token": False,
        "priority_class_name": priority_class,
        # With `scaleOnInFlight: false` the HPA may stop a busy worker: it gets the whole
        # longest task to finish before the kubelet kills it.
        "termination_grace_period_seconds": settings.grace_period_seconds,
        "security_context": restricted_pod_security(APP_UID),
        "containers": [
            {
                "name": "worker",
                "image": settings.image,
                "env": env,
                "resources": container_resources(settings.worker_resources),
                "security_context": restricted_container(),
                "lifecycle": {"pre_stop": {"exec_": {"command": drain_command()}}},
                "startup_probe": http_probe("/healthz", WORKER_HEALTH_PORT, failures=30),
                "liveness_probe": http_probe("/healthz", WORKER_HEALTH_PORT, failures=3),
                "readiness_probe": http_probe("/readyz", WORKER_HEALTH_PORT, failures=1),
                "volume_mounts": [{"name": "tmp", "mount_path": "/tmp"}],
            }
        ],
        # The root filesystem is read-only; the drain markers and scratch files live here.
        "volumes": [{"name": "tmp", "empty_dir": {"size_limit": "64Mi"}}],
    }


def drain_command() -> list[str]:
    """Ask the worker to stop receiving, then wait while it still holds a message.

    The kubelet sends SIGTERM only once this returns, and the whole hook counts against the grace
    period; a worker that ignores the marker just gets SIGTERM at once and must give its message
    back (ChangeMessageVisibility to 0) before it exits.
    """
    script = f"touch {WORKER_DRAIN_FILE}; while [ -e {WORKER_BUSY_FILE} ]; do sleep 1; done"
    return ["/bin/sh", "-c", script]


# --- spare room --------------------------------------------------------------------------------


def headroom(scope: Scope, settings: WorkerSettings) -> k8s.apps.v1.Deployment | None:
    """Placeholder pods the size of a worker that hold node room until a worker needs it.

    A burst then starts on nodes already running instead of waiting a minute or more for Karpenter
    to launch one; the evicted placeholders go pending, and Karpenter launches nodes for them in
    the background. None when the stack keeps no headroom.
    """
    if settings.headroom_pods == 0:
        return None

    priority = k8s.scheduling.v1.PriorityClass(
        f"{scope.name}-headroom",
        metadata={"name": f"{scope.name}-headroom"},
        value=HEADROOM_PRIORITY,
        global_default=False,
        # A placeholder only ever gives room away; it never takes any from another pod.
        preemption_policy="Never",
        description="Headroom placeholders: evicted first, whenever any other pod needs room",
        opts=scope.opts(),
    )
    labels = scope.labels("headroom")
    return k8s.apps.v1.Deployment(
        f"{scope.name}-headroom",
        metadata=scope.metadata("headroom"),
        spec={
            "replicas": settings.headroom_pods,
            "selector": {"match_labels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": placeholder_pod(settings, priority.metadata.name),
            },
        },
        opts=scope.opts(),
    )


def placeholder_pod(
    settings: WorkerSettings, priority_class: pulumi.Input[str]
) -> k8s.core.v1.PodSpecArgsDict:
    return {
        "priority_class_name": priority_class,
        "automount_service_account_token": False,
        "enable_service_links": False,
        # The pause process exits on SIGTERM; nothing is lost, so the room frees at once.
        "termination_grace_period_seconds": 0,
        "security_context": restricted_pod_security(PAUSE_UID),
        "containers": [
            {
                "name": "pause",
                "image": PAUSE_IMAGE,
                # A worker's requests, so one evicted placeholder makes room for one worker.
                "resources": container_resources(settings.worker_resources),
                "security_context": restricted_container(),
            }
        ],
    }


# --- API ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiIngress:
    """How the ALB reaches the API: its target group, security group and the pods' port."""

    target_group_arn: pulumi.Input[str]
    alb_security_group_id: pulumi.Input[str]
    port: int


def api(
    scope: Scope, settings: WorkerSettings, pod: Pod, ingress: ApiIngress
) -> k8s.apps.v1.Deployment:
    """API pods behind a ClusterIP Service that a TargetGroupBinding puts behind the ALB."""
    labels = scope.labels("api")
    deployment = k8s.apps.v1.Deployment(
        f"{scope.name}-api",
        metadata=scope.metadata("api"),
        spec={
            "replicas": settings.api_replicas,
            "selector": {"match_labels": labels},
            "strategy": {
                "type": "RollingUpdate",
                "rolling_update": {"max_unavailable": 0, "max_surge": 1},
            },
            "template": {
                "metadata": {"labels": labels},
                "spec": api_pod(settings, pod, ingress.port, labels),
            },
        },
        opts=scope.opts(),
    )
    service = k8s.core.v1.Service(
        f"{scope.name}-api",
        metadata=scope.metadata("api"),
        spec={
            # Never LoadBalancer: the only way in is CloudFront and the ALB that Pulumi owns.
            "type": "ClusterIP",
            "selector": labels,
            "ports": [{"name": "http", "port": ingress.port, "target_port": "http"}],
        },
        opts=scope.opts(),
    )
    _target_group_binding(scope, service, ingress)
    k8s.policy.v1.PodDisruptionBudget(
        f"{scope.name}-api",
        metadata=scope.metadata("api"),
        spec={"max_unavailable": 1, "selector": {"match_labels": labels}},
        opts=scope.opts(),
    )
    return deployment


def _target_group_binding(scope: Scope, service: k8s.core.v1.Service, ingress: ApiIngress) -> None:
    # The controller registers the pods' IPs in the target group, and, from `networking`, opens
    # the API port on the pods' security group to the ALB's security group and nothing else.
    k8s.apiextensions.CustomResource(
        f"{scope.name}-api-targets",
        api_version="elbv2.k8s.aws/v1beta1",
        kind="TargetGroupBinding",
        metadata=scope.metadata("api"),
        spec={
            "serviceRef": {"name": service.metadata.name, "port": ingress.port},
            "targetGroupARN": ingress.target_group_arn,
            "targetType": "ip",
            "networking": {
                "ingress": [
                    {
                        "from": [{"securityGroup": {"groupID": ingress.alb_security_group_id}}],
                        "ports": [{"protocol": "TCP", "port": ingress.port}],
                    }
                ]
            },
        },
        opts=scope.opts(),
    )


def api_pod(
    settings: WorkerSettings, pod: Pod, port: int, labels: dict[str, str]
) -> k8s.core.v1.PodSpecArgsDict:
    return {
        "service_account_name": pod.service_account,
        "automount_service_account_token": False,
        "termination_grace_period_seconds": API_GRACE_SECONDS,
        "security_context": restricted_pod_security(APP_UID),
        # One zone lost never takes every API pod with it.
        "topology_spread_constraints": [
            {
                "max_skew": 1,
                "topology_key": "topology.kubernetes.io/zone",
                "when_unsatisfiable": "ScheduleAnyway",
                "label_selector": {"match_labels": labels},
            }
        ],
        "containers": [
            {
                "name": "api",
                "image": settings.api_image,
                "env": list(pod.env),
                "ports": [{"name": "http", "container_port": port, "protocol": "TCP"}],
                "resources": container_resources(settings.api_resources),
                "security_context": restricted_container(),
                "lifecycle": {"pre_stop": {"sleep": {"seconds": API_DEREGISTRATION_SECONDS}}},
                "startup_probe": http_probe("/healthz", port, failures=30),
                "liveness_probe": http_probe("/healthz", port, failures=3),
                "readiness_probe": http_probe("/readyz", port, failures=1),
                "volume_mounts": [{"name": "tmp", "mount_path": "/tmp"}],
            }
        ],
        "volumes": [{"name": "tmp", "empty_dir": {"size_limit": "64Mi"}}],
    }


# --- shared pieces -----------------------------------------------------------------------------


def restricted_pod_security(uid: int) -> k8s.core.v1.PodSecurityContextArgsDict:
    return {
        "run_as_non_root": True,
        "run_as_user": uid,
        "run_as_group": uid,
        "fs_group": uid,
        "seccomp_profile": {"type": "RuntimeDefault"},
    }


def restricted_container() -> k8s.core.v1.SecurityContextArgsDict:
    return {
        "run_as_non_root": True,
        "read_only_root_filesystem": True,
        "allow_privilege_escalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccomp_profile": {"type": "RuntimeDefault"},
    }


def container_resources(resources: ContainerResources) -> k8s.core.v1.ResourceRequirementsArgsDict:
    return {
        "requests": {"cpu": resources.cpu_request, "memory": resources.memory_request},
        "limits": {"cpu": resources.cpu_limit, "memory": resources.memory_limit},
    }


def http_probe(path: str, port: int, *, failures: int) -> k8s.core.v1.ProbeArgsDict:
    return {
        "http_get": {"path": path, "port": port},
        "period_seconds": 10,
        "timeout_seconds": 2,
        "failure_threshold": failures,
    }
