"""One DedicatedCluster built under the mocks, shared by the tests of its modules."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from components.cluster import DedicatedCluster, DedicatedClusterArgs
from components.settings import StackSettings
from tests.conftest import of_type, one
from tools.offline import ProgramRun
from tools.records import ResourceRecord

NAME = "matching"
COMPONENT = "matching:platform:DedicatedCluster"

ADDON = "aws:eks/addon:Addon"
ROLE = "aws:iam/role:Role"
POLICY = "aws:iam/policy:Policy"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
ASSOCIATION = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
RELEASE = "kubernetes:helm.sh/v3:Release"
NAMESPACE = "kubernetes:core/v1:Namespace"
QUEUE = "aws:sqs/queue:Queue"


def build(settings: StackSettings) -> Callable[[], None]:
    """The body that declares one DedicatedCluster as `__main__.py` does, for `run_component`."""

    def body() -> None:
        DedicatedCluster(
            NAME,
            DedicatedClusterArgs(
                network=settings.network,
                cluster=settings.cluster,
                protect_state=settings.is_production,
            ),
        )

    return body


def cluster_name(stack: str) -> str:
    return f"{NAME}-{stack}"


def document(record: ResourceRecord, key: str = "policy") -> dict[str, Any]:
    return json.loads(record.inputs[key])


def statements(record: ResourceRecord, key: str = "policy") -> dict[str, dict[str, Any]]:
    """A policy's statements by Sid."""
    return {s["Sid"]: s for s in document(record, key)["Statement"]}


def attached(run: ProgramRun, role: ResourceRecord) -> set[str]:
    """The ARNs of the managed policies attached to `role`."""
    return {
        r.inputs["policyArn"]
        for r in of_type(run, ATTACHMENT)
        if r.inputs["role"] == role.outputs["name"]
    }


def subnets(run: ProgramRun, role: str) -> list[ResourceRecord]:
    """Subnets of one role in zone order; registration order varies from run to run."""
    found = [
        r for r in of_type(run, "aws:ec2/subnet:Subnet") if r.name.startswith(f"{NAME}-{role}-")
    ]
    return sorted(found, key=lambda r: int(r.name.rsplit("-", 1)[1]))


def release(run: ProgramRun, role: str) -> ResourceRecord:
    return one(run, RELEASE, f"{NAME}-{role}")
