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
