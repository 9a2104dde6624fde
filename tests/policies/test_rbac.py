"""k8s-no-anonymous-bindings: no role bound to Kubernetes' catch-all subjects."""

from __future__ import annotations

from typing import Any

import pytest

from tests.policies.builders import resource
from tests.policies.expect import explain, policies
from tools.analyzer import PolicyPack
from tools.records import ResourceRecord

POLICY = "k8s-no-anonymous-bindings"
CLUSTER_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"
ROLE_REF = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}
WORKER = {"kind": "ServiceAccount", "name": "worker", "namespace": "workers"}


def _binding(*subjects: dict[str, Any], token: str = CLUSTER_BINDING) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": token.rsplit(":", 1)[1].removesuffix("Patch").removesuffix("List"),
        "metadata": {"name": "readers"},
        "roleRef": ROLE_REF,
        "subjects": list(subjects),
    }


def _group(name: str) -> dict[str, Any]:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": name}


CATCH_ALLS = [
    pytest.param(_group("system:unauthenticated"), id="unauthenticated"),
    pytest.param(_group("system:authenticated"), id="authenticated"),
    pytest.param({"kind": "User", "name": "system:anonymous"}, id="anonymous"),
    pytest.param(_group(" system:unauthenticated "), id="padded"),
]


def _shapes(subject: dict[str, Any]) -> list[ResourceRecord]:
    """The same binding as its own resource, a patch, a list item and ConfigGroup text."""
    body = _binding(WORKER, subject)
    yaml_text = (
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\n"
        "metadata: {name: readers}\nroleRef: {apiGroup: rbac.authorization.k8s.io, "
        f"kind: ClusterRole, name: view}}\nsubjects:\n- {{kind: {subject['kind']}, "
        f"name: '{subject['name']}'}}\n"
    )
    return [
        resource(CLUSTER_BINDING, "own", body),
        resource(f"{CLUSTER_BINDING}Patch", "patch", body),
        resource(
            "kubernetes:rbac.authorization.k8s.io/v1:RoleBindingList",
            "list",
            {"items": [{**body, "kind": "RoleBinding"}]},
        ),
        resource("kubernetes:yaml/v2:ConfigGroup", "group", {"yaml": [yaml_text]}),
    ]


@pytest.mark.parametrize("subject", CATCH_ALLS)
@pytest.mark.parametrize("index", range(4), ids=["own", "patch", "list", "config-group"])
def test_binding_to_everybody_is_blocked(
    pack: PolicyPack, subject: dict[str, Any], index: int
) -> None:
    record = _shapes(subject)[index]

    found = pack.analyze(record)

    assert POLICY in policies(found), explain(record.urn, found)


@pytest.mark.parametrize(
    "subject",
    [
        pytest.param(_group("platform-admins"), id="named-group"),
        pytest.param({"kind": "User", "name": "system:anonymous-auditor"}, id="lookalike-user"),
        pytest.param({**_group("system:unauthenticated"), "kind": "User"}, id="user-of-that-name"),
    ],
)
def test_binding_to_someone_named_passes(pack: PolicyPack, subject: dict[str, Any]) -> None:
    record = resource(CLUSTER_BINDING, "named", _binding(WORKER, subject))

    found = pack.analyze(record)

    assert POLICY not in policies(found), explain(record.urn, found)


def test_unreadable_yaml_is_blocked(pack: PolicyPack) -> None:
    record = resource("kubernetes:yaml/v2:ConfigGroup", "broken", {"yaml": ["kind: [unclosed"]})

    found = pack.analyze(record)

    assert POLICY in policies(found), explain(record.urn, found)
