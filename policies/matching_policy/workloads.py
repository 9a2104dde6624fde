"""Pods: restricted, sized, and running images that can't change under them.

Every workload kind is judged through its pod template, so a Job or a bare Pod is held to the
same rules as a Deployment, and in every wrapper the Service and Ingress rules unwrap: a list,
a patch, a custom resource token, or the text of a yaml ConfigGroup. A patch is judged by what
it sets (a patch that only scales a Deployment leaves its securityContext as it was). Init
containers run with the same privileges as the others and are judged the same way.
"Restricted" is the Kubernetes Pod Security Standard of that name, plus a read-only root
filesystem and no hostPath volume.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

from matching_policy._props import get, items, texts
from matching_policy.kubernetes import manifests

# Where each workload kind keeps its pod spec, whatever its API group and version.
_TEMPLATE = ("spec", "template", "spec")
POD_SPECS = {
    "Deployment": _TEMPLATE,
    "StatefulSet": _TEMPLATE,
    "DaemonSet": _TEMPLATE,
    "ReplicaSet": _TEMPLATE,
    "ReplicationController": _TEMPLATE,
    "Job": _TEMPLATE,
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "Pod": ("spec",),
    "PodTemplate": ("template", "spec"),
    # Custom kinds that carry a pod template: KEDA's ScaledJob (KEDA runs here) and Argo's Rollout.
    "ScaledJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "Rollout": _TEMPLATE,
}
# The one capability the restricted profile lets a container add.
ADDABLE_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
SECCOMP_TYPES = frozenset({"RuntimeDefault", "Localhost"})
HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")

# The pod spec, the policy's config and whether it is a patch; the findings.
PodCheck = Callable[[Any, dict[str, Any], bool], list[str]]


def _containers(pod: Any) -> Iterator[tuple[str, Any]]:
    for key in ("initContainers", "containers"):
        for container in items(get(pod, key)):
            yield f"{key[:-1]} {get(container, 'name')!r}", container


def _pod_rule(check: PodCheck) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    """A validate function that runs `check` on the pod spec of every workload, however wrapped."""

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if not args.resource_type.startswith("kubernetes:"):
            return

        found, broken = manifests(args)
        config = dict(args.get_config())
        patch = args.resource_type.endswith("Patch")
        for manifest in found:
            path = POD_SPECS.get(manifest.kind)
            if path is None:
                continue
            for finding in check(get(manifest.body, *path), config, patch):
                report(f"{manifest.kind} {manifest.where}: {finding}", None)
        for reason in broken:
            report(f"{args.urn}: {reason}, so it may declare pods that are not judged", None)

    return validate


# --- k8s-pod-restricted ----------------------------------------------------------------------

POD_RESTRICTED_EXAMPLE = """\
k8s.apps.v1.Deployment("worker", spec={"template": {"spec": {"hostNetwork": True,
    "containers": [{"name": "worker", "securityContext": {"privileged": True}}]}}})
"""


def _restricted(pod: Any, _config: dict[str, Any], patch: bool) -> list[str]:
    found = [f"sets {key}" for key in HOST_NAMESPACES if get(pod, key) is True]
    found += [
        f"mounts hostPath volume {get(v, 'name')!r}"
        for v in items(get(pod, "volumes"))
        if get(v, "hostPath") is not None
    ]
    pod_context = get(pod, "securityContext")
    for where, container in _containers(pod):
        # A patch container that names an image may be a new one: nothing proves it exists.
        partial = patch and get(container, "image") is None
        found += [f"{where} {f}" for f in _container_findings(pod_context, container, partial)]
    return found


def _container_findings(pod_context: Any, container: Any, patch: bool) -> list[str]:
    """What breaks the restricted profile; for a patch, only what it sets itself."""
    context = get(container, "securityContext")
    found: list[str] = []
    if get(context, "privileged") is True:
        found.append("is privileged")
    if _unsafe(_either(context, pod_context, "runAsNonRoot"), True, patch):
        found.append("may run as root (runAsNonRoot not true)")
    if _unsafe(get(context, "readOnlyRootFilesystem"), True, patch):
        found.append("has a writable root filesystem")
    if _unsafe(get(context, "allowPrivilegeEscalation"), False, patch):
        found.append("allows privilege escalation")
    added = [c for c in texts(get(context, "capabilities", "add")) if c not in ADDABLE_CAPABILITIES]
    if added:
        found.append(f"adds capabilities {', '.join(added)}")
    ports = [p for p in items(get(container, "ports")) if get(p, "hostPort") not in (None, 0)]
    if ports:
        found.append("binds a port of the node (hostPort)")
    drop = get(context, "capabilities", "drop")
    if (drop is not None or not patch) and "ALL" not in texts(drop):
        found.append("does not drop ALL capabilities")
    seccomp = _either(context, pod_context, "seccompProfile")
    if (seccomp is not None or not patch) and get(seccomp, "type") not in SECCOMP_TYPES:
        found.append("has no RuntimeDefault or Localhost seccomp profile")
    return found


def _unsafe(value: object, safe: bool, patch: bool) -> bool:
    """Anything but the safe value; a patch that leaves the field out changes nothing."""
    return value is not safe and not (patch and value is None)


def _either(context: Any, pod_context: Any, key: str) -> Any:
    """The container's setting, or else the pod's: Kubernetes lets the container's win."""
    own = get(context, key)
    return own if own is not None else get(pod_context, key)


K8S_POD_RESTRICTED = ResourceValidationPolicy(
    name="k8s-pod-restricted",
    description="Every pod runs restricted: non-root, read-only root filesystem, no privilege "
    "escalation, ALL capabilities dropped, a seccomp profile, not privileged, no host "
    "namespaces and no hostPath volumes.",
    validate=_pod_rule(_restricted),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
)


# --- k8s-resources-set -----------------------------------------------------------------------

RESOURCES_EXAMPLE = """\
k8s.apps.v1.Deployment("api", spec={"template": {"spec": {"containers": [
    {"name": "api", "image": "api:1.0", "resources": {"requests": {"cpu": "250m"}}}]}}})
"""
REQUIRED_RESOURCES = (("requests", "cpu"), ("requests", "memory"), ("limits", "memory"))


def _resources(pod: Any, _config: dict[str, Any], patch: bool) -> list[str]:
    found: list[str] = []
    for where, container in _containers(pod):
        if patch and get(container, "image") is None:
            continue  # merged into a container of the object, which keeps its resources
        resources = get(container, "resources")
        missing = [f"{a}.{b}" for a, b in REQUIRED_RESOURCES if get(resources, a, b) is None]
        if missing:
            found.append(f"{where} sets no {', '.join(missing)}")
    return found


# Without requests the scheduler and Karpenter size nodes blind; without a memory limit one
# container can starve its node's other pods.
K8S_RESOURCES_SET = ResourceValidationPolicy(
    name="k8s-resources-set",
    description="Every container, init containers included, requests cpu and memory and limits "
    "memory.",
    validate=_pod_rule(_resources),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.MEDIUM,
)


# --- k8s-images-pinned -----------------------------------------------------------------------

IMAGES_EXAMPLE = (
    'k8s.core.v1.Pod("debug", spec={"containers": [{"name": "x", "image": "busybox"}]})'
)


def _images(pod: Any, config: dict[str, Any], patch: bool) -> list[str]:
    registries = texts(config.get("allowedRegistries"))
    found: list[str] = []
    for where, container in _containers(pod):
        image = get(container, "image")
        if image is None and patch:
            continue
        if not isinstance(image, str) or not _is_pinned(image):
            found.append(f"{where} runs {image!r}: neither a digest nor a tag other than latest")
        elif registries and not any(_comes_from(image, r) for r in registries):
            found.append(f"{where} pulls {image!r} from outside {', '.join(registries)}")
    return found


def _comes_from(image: str, allowed: str) -> bool:
    """Whether the image's repository is `allowed` or lies below it (a registry, a path)."""
    repository = image.partition("@")[0]
    head, _, name = repository.rpartition("/")
    repository = f"{head}/{name.partition(':')[0]}" if head else name.partition(":")[0]
    return repository == allowed or repository.startswith(f"{allowed}/")


def _is_pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    # A ':' after the last '/' is a tag; one before it is a registry's port.
    name = image.rsplit("/", 1)[-1]
    tag = name.partition(":")[2]
    return bool(tag) and tag != "latest"


K8S_IMAGES_PINNED = ResourceValidationPolicy(
    name="k8s-images-pinned",
    description="Every container image is pinned by digest or by a tag other than latest, and "
    "comes from an allowed registry when a list is configured.",
    validate=_pod_rule(_images),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.MEDIUM,
    config_schema=PolicyConfigSchema(
        properties={
            "allowedRegistries": {
                "description": "Registry hosts, with any path prefix or a whole repository, "
                "that images may come from; empty allows any.",
                "type": "array",
                "uniqueItems": True,
                "items": {"type": "string", "pattern": "^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._/-]+)?$"},
                "default": [],
            }
        }
    ),
)

POLICIES = [K8S_POD_RESTRICTED, K8S_RESOURCES_SET, K8S_IMAGES_PINNED]
