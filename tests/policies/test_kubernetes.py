"""Kubernetes objects that would make a load balancer outside the pack's sight."""

from __future__ import annotations

import pytest

from tests.policies.builders import resource
from tests.policies.expect import explain, policies
from tools.analyzer import PolicyPack
from tools.records import ResourceRecord

SERVICE = "kubernetes:core/v1:Service"


@pytest.mark.parametrize(
    ("record", "policy"),
    [
        pytest.param(
            resource(SERVICE, "api", {"spec": {"type": "LoadBalancer"}}),
            "k8s-no-loadbalancer-service",
            id="service-lb",
        ),
        pytest.param(
            resource("kubernetes:core/v1:ServicePatch", "api", {"spec": {"type": "LoadBalancer"}}),
            "k8s-no-loadbalancer-service",
            id="service-patch-lb",
        ),
        pytest.param(
            resource("kubernetes:networking.k8s.io/v1:Ingress", "api", {"spec": {}}),
            "k8s-no-ingress",
            id="ingress",
        ),
    ],
)
def test_load_balancer_maker_is_blocked(
    pack: PolicyPack, record: ResourceRecord, policy: str
) -> None:
    found = pack.analyze(record)

    assert policies(found) == [policy], explain(record.urn, found)


def test_cluster_ip_service_passes(pack: PolicyPack) -> None:
    record = resource(SERVICE, "api", {"spec": {"type": "ClusterIP"}})

    found = pack.analyze(record)

    assert found == [], explain(record.urn, found)


def test_gateway_is_blocked(pack: PolicyPack) -> None:
    gateway = resource(
        "kubernetes:gateway.networking.k8s.io/v1:Gateway", "api", {"spec": {"listeners": []}}
    )

    found = pack.analyze(gateway)

    assert policies(found) == ["k8s-no-ingress"], explain(gateway.urn, found)


RELEASE = "kubernetes:helm.sh/v3:Release"


@pytest.mark.parametrize(
    ("values", "path"),
    [
        pytest.param({"grafana": {"service": {"type": "LoadBalancer"}}}, "grafana.service.type"),
        pytest.param({"grafana": {"ingress": {"enabled": True}}}, "grafana.ingress.enabled"),
        pytest.param({"extra": [{"service": {"type": "LoadBalancer"}}]}, "extra[0].service.type"),
    ],
)
def test_release_asking_for_a_load_balancer_is_blocked(
    pack: PolicyPack, values: dict[str, object], path: str
) -> None:
    release = resource(RELEASE, "prometheus", {"chart": "kube-prometheus-stack", "values": values})

    found = pack.analyze(release)

    assert policies(found) == ["k8s-helm-no-load-balancer"], explain(release.urn, found)
    assert f"values.{path}" in found[0].message


def test_release_without_load_balancer_values_passes(pack: PolicyPack) -> None:
    values = {"grafana": {"ingress": {"enabled": False}, "service": {"type": "ClusterIP"}}}
    release = resource(RELEASE, "prometheus", {"chart": "kube-prometheus-stack", "values": values})

    found = pack.analyze(release)

    assert found == [], explain(release.urn, found)
