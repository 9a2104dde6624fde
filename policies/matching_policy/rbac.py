"""Kubernetes RBAC: no role is bound to everybody.

With access entries as the only way in, the cluster knows every IAM principal it admits; a
RoleBinding or ClusterRoleBinding whose subject is one of Kubernetes' catch-all groups undoes
that: `system:unauthenticated` and the user `system:anonymous` are every caller that reaches the
API endpoint, `system:authenticated` every identity that signs in at all. Bindings are read
wherever the program declares them: as their own resources, in lists, as patches, and inside a
ConfigGroup's or ConfigFile's inline objects and YAML text.
"""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

from matching_policy._props import get, items
from matching_policy.kubernetes import manifests

RBAC_GROUP = "rbac.authorization.k8s.io"
BINDINGS = frozenset({"RoleBinding", "ClusterRoleBinding"})
# Kubernetes' catch-all subjects, by kind.
EVERYBODY = {
    "Group": frozenset({"system:unauthenticated", "system:authenticated"}),
    "User": frozenset({"system:anonymous"}),
}

ANONYMOUS_BINDING_EXAMPLE = """\
k8s.rbac.v1.ClusterRoleBinding("open", role_ref={"kind": "ClusterRole", "name": "view", ...},
    subjects=[{"kind": "Group", "name": "system:unauthenticated"}])
"""


def _catch_all(subject: object) -> str | None:
    kind, name = get(subject, "kind"), get(subject, "name")
    if isinstance(kind, str) and isinstance(name, str) and name.strip() in EVERYBODY.get(kind, ()):
        return f"{kind} {name.strip()}"
    return None


def _check_bindings(args: ResourceValidationArgs, report: ReportViolation) -> None:
    found, broken = manifests(args)
    for manifest in (m for m in found if m.group == RBAC_GROUP and m.kind in BINDINGS):
        role = get(manifest.body, "roleRef", "name")
        for subject in items(get(manifest.body, "subjects")):
            catch_all = _catch_all(subject)
            if catch_all is not None:
                report(f"{manifest.kind} {manifest.where} binds {role!r} to {catch_all}", None)
    for reason in broken:
        report(f"{args.urn}: {reason}, so it may bind a role to everybody", None)


K8S_NO_ANONYMOUS_BINDINGS = ResourceValidationPolicy(
    name="k8s-no-anonymous-bindings",
    description="No RoleBinding or ClusterRoleBinding names system:unauthenticated, "
    "system:authenticated or system:anonymous: each would hand its role to every caller, or "
    "every signed-in identity, past the access entries.",
    validate=_check_bindings,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    remediation_steps="Bind the role to the service account or the named group that needs it.",
)

POLICIES = [K8S_NO_ANONYMOUS_BINDINGS]
