"""Every namespace enforces the `restricted` Pod Security Standard, except those the config names.

Pod Security admission reads a namespace's `pod-security.kubernetes.io/enforce` label; EKS
admits everything (`privileged`) where the label is absent, so a namespace without it, or with a
level its config does not allow, lets any pod in, host namespaces and privileged containers
included. The pod policies judge only the pods the program declares; this label also guards the
pods that charts and controllers make. A Helm release that creates its own namespace creates it
unlabelled. Exemptions name the namespace, the level allowed and the reason, so that a reviewer
sees each one in the pack's config.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

from matching_policy._props import get
from matching_policy.kubernetes import RELEASES, manifests

ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
# From strictest to most lenient: a namespace may always be stricter than its exemption.
LEVELS = ("restricted", "baseline", "privileged")

NAMESPACE_EXAMPLE = """\
k8s.core.v1.Namespace("tools", metadata={"name": "tools"})  # no label: privileged
"""


def _exemptions(config: Mapping[str, Any]) -> dict[str, str]:
    """The level each exempt namespace may enforce at most; the reasons are for reviewers."""
    found = config.get("exemptions")
    if not isinstance(found, Mapping):
        return {}
    entries = cast(Mapping[str, Any], found)
    return {name: str(get(entry, "level")) for name, entry in entries.items()}


def _level_problem(labels: object, allowed: str, *, patch: bool) -> str | None:
    enforce = get(labels, ENFORCE_LABEL)
    if enforce is None:
        # A patch that leaves the label out leaves the namespace's own label as it is.
        return None if patch else f"has no {ENFORCE_LABEL} label, so EKS admits privileged pods"
    if enforce not in LEVELS:
        return f"enforces {enforce!r}, which is not a Pod Security level ({', '.join(LEVELS)})"
    if LEVELS.index(enforce) > LEVELS.index(allowed):
        return f"enforces {enforce!r}; at most {allowed!r} is allowed here"
    return None


def _check_namespaces(args: ResourceValidationArgs, report: ReportViolation) -> None:
    exemptions = _exemptions(args.get_config())
    if args.resource_type in RELEASES:
        if get(args.props, "createNamespace") is True:
            report(
                f"release '{args.name}' ({args.urn}) creates its namespace, which has no "
                f"{ENFORCE_LABEL} label; declare the namespace with its label instead",
                None,
            )
        return

    found, broken = manifests(args)
    patch = args.resource_type.endswith("Patch")
    for manifest in (m for m in found if m.kind == "Namespace" and m.group == "core"):
        name = get(manifest.body, "metadata", "name")
        allowed = exemptions.get(name, LEVELS[0]) if isinstance(name, str) else LEVELS[0]
        labels = get(manifest.body, "metadata", "labels")
        problem = _level_problem(labels, allowed, patch=patch)
        if problem is not None:
            report(f"namespace {manifest.where} {problem}", None)
    for reason in broken:
        report(f"{args.urn}: {reason}, so it may declare an unlabelled namespace", None)


K8S_NAMESPACE_RESTRICTED = ResourceValidationPolicy(
    name="k8s-namespace-restricted",
    description="Every Kubernetes namespace enforces the restricted Pod Security Standard "
    "through its label, unless the config exempts it by name to a stated level and reason; no "
    "Helm release creates its own namespace.",
    validate=_check_namespaces,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    config_schema=PolicyConfigSchema(
        properties={
            "exemptions": {
                "description": "Namespaces that may enforce a more lenient level, each with "
                "the most lenient level allowed and why.",
                "type": "object",
                "default": {},
                "propertyNames": {"pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63},
                "additionalProperties": {
                    "type": "object",
                    "properties": {
                        "level": {"enum": list(LEVELS[1:])},
                        "reason": {"type": "string", "minLength": 20},
                    },
                    "required": ["level", "reason"],
                    "additionalProperties": False,
                },
            }
        }
    ),
    remediation_steps=f"Label the namespace `{ENFORCE_LABEL}: restricted`, or exempt it in the "
    "policy config with the level it needs and why.",
)

POLICIES = [K8S_NAMESPACE_RESTRICTED]
