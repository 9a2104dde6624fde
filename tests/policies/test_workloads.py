"""Pod templates of every workload kind: restricted, sized, pinned."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from tests.policies.builders import DEFAULT_PROVIDER, UNKNOWN, resource
from tests.policies.expect import explain, policies
from tools.analyzer import PolicyPack
from tools.records import ResourceRecord

IMAGE = "111122223333.dkr.ecr.eu-central-1.amazonaws.com/worker:1.4.2"
CONTAINER: dict[str, Any] = {
    "name": "worker",
    "image": IMAGE,
    "securityContext": {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    },
    "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
}
POD: dict[str, Any] = {
    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [CONTAINER],
}
Pod = dict[str, Any]


def _templated(pod: Pod) -> Pod:
    return {"template": {"spec": pod}}


def _scheduled(pod: Pod) -> Pod:
    return {"jobTemplate": {"spec": _templated(pod)}}


def _bare(pod: Pod) -> Pod:
    return pod


KINDS: dict[str, Callable[[Pod], Pod]] = {
    "kubernetes:apps/v1:Deployment": _templated,
    "kubernetes:apps/v1:StatefulSet": _templated,
    "kubernetes:apps/v1:DaemonSet": _templated,
    "kubernetes:apps/v1:ReplicaSet": _templated,
    "kubernetes:core/v1:ReplicationController": _templated,
    "kubernetes:batch/v1:Job": _templated,
    "kubernetes:batch/v1:CronJob": _scheduled,
    "kubernetes:core/v1:Pod": _bare,
    "kubernetes:extensions/v1beta1:DaemonSet": _templated,
}


def _workload(pod: dict[str, Any], token: str = "kubernetes:apps/v1:Deployment") -> ResourceRecord:
    return resource(token, "worker", {"metadata": {"name": "worker"}, "spec": KINDS[token](pod)})


def _pod(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(POD), **changes}


def _container(**changes: Any) -> dict[str, Any]:
    return _pod(containers=[{**copy.deepcopy(CONTAINER), **changes}])


def _context(**changes: Any) -> dict[str, Any]:
    return _container(securityContext={**CONTAINER["securityContext"], **changes})


def _check(pack: PolicyPack, record: ResourceRecord) -> list[str]:
    """The policies that block `record`, each once (a pod may break one in several places)."""
    return sorted(set(policies(pack.analyze(record, DEFAULT_PROVIDER))))


@pytest.mark.parametrize("token", list(KINDS))
def test_compliant_pod_passes_in_every_kind(pack: PolicyPack, token: str) -> None:
    record = _workload(_pod(), token)

    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert found == [], explain(record.urn, found)


@pytest.mark.parametrize("token", list(KINDS))
def test_privileged_pod_is_blocked_in_every_kind(pack: PolicyPack, token: str) -> None:
    record = _workload(_context(privileged=True), token)

    assert _check(pack, record) == ["k8s-pod-restricted"], record.urn


@pytest.mark.parametrize(
    "pod",
    [
        pytest.param(_pod(hostNetwork=True), id="host-network"),
        pytest.param(_pod(hostPID=True), id="host-pid"),
        pytest.param(_pod(hostIPC=True), id="host-ipc"),
        pytest.param(_pod(volumes=[{"name": "h", "hostPath": {"path": "/"}}]), id="host-path"),
        pytest.param(
            _pod(securityContext={"seccompProfile": {"type": "RuntimeDefault"}}), id="root-allowed"
        ),
        pytest.param(_pod(securityContext={"runAsNonRoot": True}), id="no-seccomp"),
        pytest.param(_context(runAsNonRoot=False), id="container-overrides-non-root"),
        pytest.param(_context(seccompProfile={"type": "Unconfined"}), id="seccomp-unconfined"),
        pytest.param(_context(readOnlyRootFilesystem=False), id="writable-root"),
        pytest.param(_context(allowPrivilegeEscalation=True), id="escalation"),
        pytest.param(_context(capabilities={"drop": ["NET_RAW"]}), id="capabilities-kept"),
        pytest.param(_container(securityContext={}), id="no-container-context"),
        pytest.param(
            _pod(initContainers=[{**CONTAINER, "securityContext": {}}]), id="init-container"
        ),
    ],
)
def test_unrestricted_pod_is_blocked(pack: PolicyPack, pod: dict[str, Any]) -> None:
    record = _workload(pod)

    assert _check(pack, record) == ["k8s-pod-restricted"], record.urn


@pytest.mark.parametrize(
    "resources",
    [
        pytest.param({}, id="none"),
        pytest.param({"requests": {"cpu": "1", "memory": "1Gi"}}, id="no-memory-limit"),
        pytest.param({"requests": {"memory": "1Gi"}, "limits": {"memory": "1Gi"}}, id="no-cpu"),
    ],
)
def test_unsized_container_is_blocked(pack: PolicyPack, resources: dict[str, Any]) -> None:
    record = _workload(_container(resources=resources))

    assert _check(pack, record) == ["k8s-resources-set"], record.urn


def test_unsized_init_container_is_blocked(pack: PolicyPack) -> None:
    record = _workload(_pod(initContainers=[{**CONTAINER, "resources": {}}]))

    assert _check(pack, record) == ["k8s-resources-set"], record.urn


@pytest.mark.parametrize(
    ("image", "pinned"),
    [
        (IMAGE, True),
        ("registry.k8s.io/pause:3.10@sha256:" + "e" * 64, True),
        ("worker@sha256:" + "a" * 64, True),
        ("localhost:5000/worker:2", True),
        ("worker", False),
        ("worker:latest", False),
        ("localhost:5000/worker", False),
    ],
)
def test_images_are_pinned(pack: PolicyPack, image: str, pinned: bool) -> None:
    record = _workload(_container(image=image))

    assert _check(pack, record) == ([] if pinned else ["k8s-images-pinned"]), image


def test_registry_outside_the_allow_list_is_blocked(pack: PolicyPack) -> None:
    pack.configure({"k8s-images-pinned": {"allowedRegistries": ["registry.k8s.io"]}})
    record = _workload(_pod())

    assert _check(pack, record) == ["k8s-images-pinned"], record.urn


PAUSE_DIGEST = "@sha256:" + "e" * 64


@pytest.mark.parametrize(
    ("image", "allowed"),
    [
        ("registry.k8s.io/pause:3.10", True),
        (f"registry.k8s.io/pause:3.10{PAUSE_DIGEST}", True),
        (f"registry.k8s.io/pause{PAUSE_DIGEST}", True),
        ("registry.k8s.io/pause/child:1", True),
        # A repository allowed whole is not a prefix of every name that starts like it.
        ("registry.k8s.io/pauser:3.10", False),
        ("registry.k8s.io/etcd:3.5", False),
        ("registry.k8s.io:5000/pause:3.10", False),
        ("evil.example/registry.k8s.io/pause:3.10", False),
    ],
)
def test_allow_listed_repository_is_matched_whole(
    pack: PolicyPack, image: str, allowed: bool
) -> None:
    pack.configure({"k8s-images-pinned": {"allowedRegistries": ["registry.k8s.io/pause"]}})
    record = _workload(_container(image=image))

    assert _check(pack, record) == ([] if allowed else ["k8s-images-pinned"]), image


def test_unknown_image_at_preview_is_advisory(preview_pack: PolicyPack) -> None:
    record = _workload(_container(image=UNKNOWN))

    found = preview_pack.analyze(record, DEFAULT_PROVIDER)

    assert policies(found) == [], explain(record.urn, found)
    assert "k8s-images-pinned" in policies(found, "advisory"), explain(record.urn, found)


def _daemon_set_text(privileged: bool) -> str:
    """A DaemonSet as a chart or a manifest file would write it."""
    context = "{privileged: true}" if privileged else "{allowPrivilegeEscalation: false}"
    return (
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent, namespace: monitoring}\n"
        "spec:\n  template:\n    spec:\n      hostPID: true\n      containers:\n"
        f"      - name: agent\n        image: agent:latest\n        securityContext: {context}\n"
    )


@pytest.mark.parametrize(
    ("token", "inputs"),
    [
        pytest.param(
            "kubernetes:yaml/v2:ConfigGroup", {"yaml": [_daemon_set_text(True)]}, id="yaml-text"
        ),
        pytest.param(
            "kubernetes:apps/v1:DeploymentList",
            {"items": [{"kind": "Deployment", "spec": _templated(_context(privileged=True))}]},
            id="list",
        ),
        pytest.param(
            "kubernetes:apps/v1:DeploymentPatch",
            {
                "metadata": {"name": "coredns", "namespace": "kube-system"},
                "spec": _templated({"hostNetwork": True, "containers": [{"name": "coredns"}]}),
            },
            id="patch-sets-host-network",
        ),
    ],
)
def test_wrapped_unrestricted_pod_is_blocked(
    pack: PolicyPack, token: str, inputs: dict[str, Any]
) -> None:
    record = resource(token, "agent", inputs)

    assert "k8s-pod-restricted" in _check(pack, record), record.urn


def test_patch_is_judged_by_what_it_sets(pack: PolicyPack) -> None:
    # Scaling a Deployment and naming a container without an image leaves that container as
    # it was: its security context and resources are the object's own.
    pod = {"containers": [{"name": "worker", "env": [{"name": "LOG_LEVEL", "value": "debug"}]}]}
    record = resource(
        "kubernetes:apps/v1:DeploymentPatch",
        "worker",
        {"metadata": {"name": "worker"}, "spec": {"replicas": 3, **_templated(pod)}},
    )

    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert found == [], explain(record.urn, found)


def test_patch_container_with_an_image_is_judged_whole(pack: PolicyPack) -> None:
    # A container that names an image may be a new one (a sidecar added to coredns, say).
    pod = {"containers": [{"name": "sidecar", "image": "docker.io/attacker/tool:1.0"}]}
    record = resource("kubernetes:apps/v1:DeploymentPatch", "coredns", {"spec": _templated(pod)})

    assert _check(pack, record) == ["k8s-pod-restricted", "k8s-resources-set"], record.urn


def test_patch_to_a_moving_tag_is_blocked(pack: PolicyPack) -> None:
    container = {**copy.deepcopy(CONTAINER), "image": "worker:latest"}
    record = resource(
        "kubernetes:apps/v1:DeploymentPatch",
        "worker",
        {"spec": _templated(_pod(containers=[container]))},
    )

    assert _check(pack, record) == ["k8s-images-pinned"], record.urn


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param(
            {
                "securityContext": {
                    **CONTAINER["securityContext"],
                    "capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN", "NET_ADMIN"]},
                }
            },
            id="capabilities-added",
        ),
        pytest.param({"ports": [{"containerPort": 8080, "hostPort": 80}]}, id="host-port"),
    ],
)
def test_container_reaching_into_its_node_is_blocked(
    pack: PolicyPack, changes: dict[str, Any]
) -> None:
    record = _workload(_container(**changes))

    assert _check(pack, record) == ["k8s-pod-restricted"], record.urn


def test_bind_service_capability_and_container_ports_pass(pack: PolicyPack) -> None:
    context = {
        **CONTAINER["securityContext"],
        "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
    }
    record = _workload(_container(securityContext=context, ports=[{"containerPort": 8080}]))

    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert found == [], explain(record.urn, found)


def test_scaled_job_pod_is_judged(pack: PolicyPack) -> None:
    spec = {"jobTemplate": {"spec": _templated(_context(privileged=True))}}
    record = resource("kubernetes:keda.sh/v1alpha1:ScaledJob", "batch", {"spec": spec})

    assert _check(pack, record) == ["k8s-pod-restricted"], record.urn
