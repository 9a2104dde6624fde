"""Kubernetes objects that would make a load balancer outside the pack's sight."""

from __future__ import annotations

import dataclasses

import pytest

from tests.policies.builders import DEFAULT_PROVIDER, UNKNOWN, resource
from tests.policies.conftest import Judge
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
# Charts whose render `helm-chart-reviewed` accepts here, so that only the values are on trial.
PROMETHEUS = {
    "chart": "kube-prometheus-stack",
    "version": "79.7.1",
    "repositoryOpts": {"repo": "https://prometheus-community.github.io/helm-charts"},
}
APP = {"chart": "oci://example/app", "version": "1.0.0"}
REVIEWED = {
    "https://prometheus-community.github.io/helm-charts/kube-prometheus-stack": ["79.7.1"],
    "oci://example/app": ["1.0.0"],
}


@pytest.fixture
def pack(pack: PolicyPack) -> PolicyPack:
    pack.configure({"helm-chart-reviewed": {"reviewedCharts": REVIEWED}})
    return pack


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
    release = resource(RELEASE, "prometheus", {**PROMETHEUS, "values": values})

    found = pack.analyze(release)

    assert policies(found) == ["k8s-helm-no-load-balancer"], explain(release.urn, found)
    assert f"values.{path}" in found[0].message


def test_release_without_load_balancer_values_passes(pack: PolicyPack) -> None:
    values = {"grafana": {"ingress": {"enabled": False}, "service": {"type": "ClusterIP"}}}
    release = resource(RELEASE, "prometheus", {**PROMETHEUS, "values": values})

    found = pack.analyze(release)

    assert found == [], explain(release.urn, found)


# --- red-team regressions: lists, yaml ConfigGroups, Helm truthiness ---------------------------

LB_SERVICE = {"metadata": {"name": "api"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 1}]}}
INGRESS_ITEM = {"metadata": {"name": "api"}, "spec": {"ingressClassName": "alb"}}
SERVICE_YAML = """
apiVersion: v1
kind: Service
metadata: {name: api}
spec: {type: LoadBalancer, ports: [{port: 443}]}
"""
INGRESS_YAML = """
apiVersion: v1
kind: List
items:
  - apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata: {name: api}
"""


@pytest.mark.parametrize(
    ("record", "policy"),
    [
        pytest.param(
            resource("kubernetes:core/v1:ServiceList", "svcs", {"items": [LB_SERVICE]}),
            "k8s-no-loadbalancer-service",
            id="service-list",
        ),
        pytest.param(
            resource(SERVICE, "api", {"spec": {"type": "loadbalancer"}}),
            "k8s-no-loadbalancer-service",
            id="service-type-lower-case",
        ),
        pytest.param(
            resource(
                "kubernetes:networking.k8s.io/v1:IngressList", "ings", {"items": [INGRESS_ITEM]}
            ),
            "k8s-no-ingress",
            id="ingress-list",
        ),
        pytest.param(
            resource("kubernetes:gateway.networking.k8s.io/v1:GatewayList", "gws", {"items": [{}]}),
            "k8s-no-ingress",
            id="gateway-list",
        ),
        pytest.param(
            resource("kubernetes:yaml/v2:ConfigGroup", "raw", {"yaml": SERVICE_YAML}),
            "k8s-no-loadbalancer-service",
            id="config-group-yaml",
        ),
        pytest.param(
            resource("kubernetes:yaml/v2:ConfigFile", "raw", {"yaml": INGRESS_YAML}),
            "k8s-no-ingress",
            id="config-file-yaml-list",
        ),
        pytest.param(
            resource("kubernetes:yaml:ConfigGroup", "raw", {"yaml": [SERVICE_YAML]}),
            "k8s-no-loadbalancer-service",
            id="v1-config-group-yaml",
        ),
        pytest.param(
            resource(
                "kubernetes:yaml/v2:ConfigGroup",
                "raw",
                {"objs": [{"apiVersion": "networking.k8s.io/v1", "kind": "Ingress"}]},
            ),
            "k8s-no-ingress",
            id="config-group-objs",
        ),
    ],
)
def test_wrapped_load_balancer_maker_is_blocked(
    pack: PolicyPack, record: ResourceRecord, policy: str
) -> None:
    found = pack.analyze(record)

    assert policies(found) == [policy], explain(record.urn, found)


def test_unparseable_yaml_is_blocked(pack: PolicyPack) -> None:
    record = resource("kubernetes:yaml/v2:ConfigGroup", "raw", {"yaml": "kind: [Service"})

    found = pack.analyze(record)

    # Every policy that reads objects says it could not: none of them passes the text unread.
    expected = [
        "k8s-images-pinned",
        "k8s-namespace-restricted",
        "k8s-no-anonymous-bindings",
        "k8s-no-ingress",
        "k8s-no-loadbalancer-service",
        "k8s-pod-restricted",
        "k8s-resources-set",
    ]
    assert policies(found) == expected, explain(record.urn, found)


@pytest.mark.parametrize(
    ("token", "inputs"),
    [
        ("kubernetes:yaml/v2:ConfigGroup", {"files": ["./manifests/*.yaml"]}),
        ("kubernetes:yaml/v2:ConfigFile", {"file": "https://example.com/app.yaml"}),
    ],
    ids=["files", "url"],
)
def test_manifests_the_pack_cannot_see_are_advisory(
    pack: PolicyPack, token: str, inputs: dict[str, object]
) -> None:
    record = resource(token, "raw", inputs)

    found = pack.analyze(record)

    assert policies(found, "advisory") == ["k8s-manifests-visible"], explain(record.urn, found)
    assert policies(found) == [], explain(record.urn, found)


@pytest.mark.parametrize(
    ("values", "path"),
    [
        pytest.param({"ingress": {"enabled": "true"}}, "ingress.enabled", id="string-true"),
        pytest.param({"ingress": {"enabled": "false"}}, "ingress.enabled", id="string-false"),
        pytest.param({"ingress": {"enabled": 1}}, "ingress.enabled", id="number"),
        pytest.param(
            {"api": {"ingresses": {"public": {"enabled": True}}}},
            "api.ingresses.public.enabled",
            id="ingresses-map",
        ),
        pytest.param(
            {"web": {"httpRoute": {"enabled": True}}}, "web.httpRoute.enabled", id="route"
        ),
        pytest.param({"gateway": {"enabled": "yes"}}, "gateway.enabled", id="gateway"),
        pytest.param({"Ingress": {"Enabled": True}}, "Ingress.Enabled", id="capitalised"),
        pytest.param(
            {"svc": {"service": {"type": "loadbalancer"}}}, "svc.service.type", id="type-lower-case"
        ),
        pytest.param({"serviceType": " LoadBalancer"}, "serviceType", id="service-type-key"),
    ],
)
def test_helm_values_read_as_helm_reads_them(
    pack: PolicyPack, values: dict[str, object], path: str
) -> None:
    release = resource(RELEASE, "app", {**APP, "values": values})

    found = pack.analyze(release)

    assert policies(found) == ["k8s-helm-no-load-balancer"], explain(release.urn, found)
    assert f"values.{path}" in found[0].message


@pytest.mark.parametrize("enabled", [False, 0, "", None])
def test_helm_falsy_enabled_passes(pack: PolicyPack, enabled: object) -> None:
    values = {"ingress": {"enabled": enabled}, "gateway": {"enabled": enabled}}
    release = resource(RELEASE, "app", {**APP, "values": values})

    found = pack.analyze(release)

    assert found == [], explain(release.urn, found)


def test_kustomize_directory_is_out_of_sight(pack: PolicyPack) -> None:
    record = resource(
        "kubernetes:kustomize/v2:Directory", "overlay", {"directory": "./overlays/prod"}
    )

    found = pack.analyze(record)

    assert policies(found, "advisory") == ["k8s-manifests-visible"], explain(record.urn, found)
    assert "./overlays/prod" in found[0].message


TARGET_GROUP = resource(
    "aws:lb/targetGroup:TargetGroup",
    "api-tg",
    {"name": "api-tg", "port": 8080, "protocol": "HTTP", "targetType": "ip"},
    computed={"arn": "arn:aws:elasticloadbalancing:eu-central-1:1:targetgroup/api-tg/1"},
)
BINDING = "kubernetes:elbv2.k8s.aws/v1beta1:TargetGroupBinding"


def _binding(arn: str, *, linked: bool) -> ResourceRecord:
    body = {
        "apiVersion": "elbv2.k8s.aws/v1beta1",
        "kind": "TargetGroupBinding",
        "metadata": {"name": "api", "namespace": "matching"},
        "spec": {"targetGroupARN": arn, "serviceRef": {"name": "api", "port": 8080}},
    }
    return resource(BINDING, "api", body, links={"spec": [TARGET_GROUP]} if linked else None)


def test_binding_to_a_declared_target_group_passes(judge: Judge) -> None:
    binding = _binding(TARGET_GROUP.outputs["arn"], linked=True)

    found = judge([DEFAULT_PROVIDER, TARGET_GROUP, binding])

    assert found == [], explain(binding.urn, found)


@pytest.mark.parametrize("linked", [False, True], ids=["literal", "literal-beside-a-link"])
def test_binding_to_a_target_group_from_elsewhere_is_blocked(judge: Judge, linked: bool) -> None:
    binding = _binding(
        "arn:aws:elasticloadbalancing:eu-central-1:1:targetgroup/public/2", linked=linked
    )

    found = judge([DEFAULT_PROVIDER, TARGET_GROUP, binding])

    assert policies(found) == ["k8s-target-groups-declared"], explain(binding.urn, found)


def test_unknown_target_group_at_preview(preview_pack: PolicyPack) -> None:
    built = _binding(UNKNOWN, linked=True)
    stray = dataclasses.replace(_binding(UNKNOWN, linked=False), name="stray", urn=built.urn + "-2")

    found = preview_pack.check([DEFAULT_PROVIDER, TARGET_GROUP, built, stray])

    assert policies(found) == [], explain(built.urn, found)
    assert policies(found, "advisory") == ["k8s-target-groups-declared"], explain(stray.urn, found)
