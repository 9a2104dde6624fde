"""One AsyncWorkers built under the mocks, shared by the tests of its modules."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi_kubernetes as k8s

from components.settings import StackSettings
from components.workers import AsyncWorkers, AsyncWorkersArgs
from tests.conftest import one
from tools.offline import ProgramRun
from tools.records import ResourceRecord

NAME = "matching"
COMPONENT = "matching:platform:AsyncWorkers"
CLUSTER = "matching-cluster"
TARGET_GROUP = "arn:aws:elasticloadbalancing:eu-central-1:1:targetgroup/api/1"
ALB_SECURITY_GROUP = "sg-0123456789abcdef0"
API_PORT = 8080

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PRIORITY_CLASS = "kubernetes:scheduling.k8s.io/v1:PriorityClass"
QUEUE = "aws:sqs/queue:Queue"
KEY = "aws:kms/key:Key"


def build(settings: StackSettings) -> Callable[[], None]:
    """The body that declares one AsyncWorkers as `__main__.py` does, for `run_component`."""

    def body() -> None:
        provider = k8s.Provider("k8s", kubeconfig="{}")
        AsyncWorkers(
            NAME,
            AsyncWorkersArgs(
                settings=settings.workers,
                cluster_name=CLUSTER,
                k8s_provider=provider,
                target_group_arn=TARGET_GROUP,
                alb_security_group_id=ALB_SECURITY_GROUP,
                api_port=API_PORT,
                vpc_cidr=settings.network.vpc_cidr,
                protect_state=settings.is_production,
            ),
        )

    return body


def document(record: ResourceRecord, key: str = "policy") -> dict[str, Any]:
    return json.loads(record.inputs[key])


def deployment(run: ProgramRun, role: str) -> ResourceRecord:
    return one(run, DEPLOYMENT, f"{NAME}-{role}")


def pod_spec(run: ProgramRun, role: str) -> dict[str, Any]:
    return deployment(run, role).inputs["spec"]["template"]["spec"]


def network_policy(run: ProgramRun, role: str) -> dict[str, Any]:
    return one(run, NETWORK_POLICY, f"{NAME}-{role}").inputs["spec"]


def queue(run: ProgramRun, role: str) -> ResourceRecord:
    return one(run, QUEUE, f"{NAME}-{role}")


def types(run: ProgramRun) -> set[str]:
    return {record.type for record in run.resources}
