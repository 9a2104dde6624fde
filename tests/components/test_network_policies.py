"""The workload namespace's fences: deny all, then the ALB in and DNS, credentials, HTTPS out."""

from __future__ import annotations

import pytest

from components.network_policies import INSTANCE_METADATA, POD_IDENTITY_AGENT
from components.settings import StackSettings
from components.workloads import WORKER_HEALTH_PORT, WORKLOAD_NAMESPACE
from tests.components.async_workers_run import (
    API_PORT,
    NAME,
    NETWORK_POLICY,
    build,
    deployment,
    network_policy,
)
from tests.conftest import ComponentRunner, of_type
from tools.offline import ProgramRun


@pytest.fixture
def run(run_component: ComponentRunner, settings: StackSettings) -> ProgramRun:
    return run_component(build(settings))


def test_every_policy_lives_in_the_workload_namespace(run: ProgramRun) -> None:
    policies = of_type(run, NETWORK_POLICY)

    assert {p.name for p in policies} == {
        f"{NAME}-{role}" for role in ("default-deny", "api-from-alb", "worker-metrics", "egress")
    }
    for policy in policies:
        assert policy.inputs["metadata"]["namespace"] == WORKLOAD_NAMESPACE, policy.urn


def test_default_deny_selects_every_pod_in_both_directions(run: ProgramRun) -> None:
    assert network_policy(run, "default-deny") == {
        "podSelector": {},
        "policyTypes": ["Ingress", "Egress"],
    }


def test_api_admits_the_vpc_on_its_port_only(run: ProgramRun, settings: StackSettings) -> None:
    spec = network_policy(run, "api-from-alb")
    api_labels = deployment(run, "api").inputs["spec"]["selector"]["matchLabels"]

    assert spec["podSelector"] == {"matchLabels": api_labels}
    assert spec["policyTypes"] == ["Ingress"]
    assert spec["ingress"] == [
        {
            "from": [{"ipBlock": {"cidr": settings.network.vpc_cidr}}],
            "ports": [{"protocol": "TCP", "port": API_PORT}],
        }
    ]


def test_workers_admit_only_prometheus_on_their_metrics_port(run: ProgramRun) -> None:
    worker_labels = deployment(run, "worker").inputs["spec"]["selector"]["matchLabels"]
    admitting = [
        p
        for p in of_type(run, NETWORK_POLICY)
        if p.inputs["spec"].get("ingress")
        and p.inputs["spec"]["podSelector"].get("matchLabels") == worker_labels
    ]

    assert [p.name for p in admitting] == [f"{NAME}-worker-metrics"]
    (rule,) = admitting[0].inputs["spec"]["ingress"]
    (peer,) = rule["from"]
    assert peer["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}
    }
    assert peer["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}
    assert rule["ports"] == [{"protocol": "TCP", "port": WORKER_HEALTH_PORT}]


def test_egress_is_dns_credentials_and_https_outside_the_vpc(
    run: ProgramRun, settings: StackSettings
) -> None:
    spec = network_policy(run, "egress")
    dns, credentials, https = spec["egress"]

    assert spec["policyTypes"] == ["Egress"]
    assert spec["podSelector"]["matchExpressions"] == [
        {"key": "app.kubernetes.io/name", "operator": "In", "values": ["api", "worker"]}
    ]
    assert dns["to"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ]
    assert dns["ports"] == [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    assert credentials == {
        "to": [{"ipBlock": {"cidr": POD_IDENTITY_AGENT}}],
        "ports": [{"protocol": "TCP", "port": 80}],
    }
    assert https == {
        "to": [
            {
                "ipBlock": {
                    "cidr": "0.0.0.0/0",
                    "except": [settings.network.vpc_cidr, INSTANCE_METADATA],
                }
            }
        ],
        "ports": [{"protocol": "TCP", "port": 443}],
    }
    assert INSTANCE_METADATA == "169.254.169.254/32"
