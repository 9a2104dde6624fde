"""NetworkPolicies of the workload namespace: deny everything, then open exactly what is used.

In: only the ALB, to the API's port. Out: DNS, the Pod Identity agent, and HTTPS to AWS APIs and
the LLM providers. Workers accept no connection but Prometheus's scrape of their metrics.
"""

from __future__ import annotations

import pulumi_kubernetes as k8s

from components.workloads import WORKER_HEALTH_PORT, Scope

# Addresses the egress policy names. The Pod Identity agent serves credentials on this link-local
# address (port 80) from the node; without it no pod gets its role.
POD_IDENTITY_AGENT = "169.254.170.23/32"
INSTANCE_METADATA = "169.254.169.254/32"
ANYWHERE = "0.0.0.0/0"
HTTPS_PORT = 443
# Where kube-prometheus-stack runs (Observability owns it; importing from there would be a cycle).
MONITORING_NAMESPACE = "monitoring"


def network_policies(scope: Scope, vpc_cidr: str, api_port: int) -> None:
    """Deny everything in the namespace, then allow the API's way in and the pods' ways out.

    Workers accept only Prometheus's scrape. Kubelet probes are not held back by this: NetworkPolicy
    always lets a pod's own node reach it, and most CNIs (the VPC CNI's policy agent included)
    admit the node's address implicitly, so no rule has to open the health ports.
    """
    # Enforced by the VPC CNI's network-policy agent, which DedicatedCluster switches on
    # (`enableNetworkPolicy`); without it every policy here would be ignored silently.
    k8s.networking.v1.NetworkPolicy(
        f"{scope.name}-default-deny",
        metadata=scope.metadata("default-deny"),
        spec=default_deny_spec(),
        opts=scope.opts(),
    )
    k8s.networking.v1.NetworkPolicy(
        f"{scope.name}-api-from-alb",
        metadata=scope.metadata("api-from-alb"),
        spec=api_ingress_spec(scope.labels("api"), vpc_cidr, api_port),
        opts=scope.opts(),
    )
    k8s.networking.v1.NetworkPolicy(
        f"{scope.name}-worker-metrics",
        metadata=scope.metadata("worker-metrics"),
        spec=metrics_ingress_spec(scope.labels("worker")),
        opts=scope.opts(),
    )
    k8s.networking.v1.NetworkPolicy(
        f"{scope.name}-egress",
        metadata=scope.metadata("egress"),
        spec=egress_spec(scope.name, vpc_cidr),
        opts=scope.opts(),
    )


def default_deny_spec() -> k8s.networking.v1.NetworkPolicySpecArgsDict:
    # An empty selector picks every pod; naming both types with no rules allows nothing.
    return {"pod_selector": {}, "policy_types": ["Ingress", "Egress"]}


def api_ingress_spec(
    labels: dict[str, str], vpc_cidr: str, port: int
) -> k8s.networking.v1.NetworkPolicySpecArgsDict:
    # The ALB's nodes sit in the VPC's private subnets with addresses that change, so the VPC's
    # range is the narrowest fixed source. It also holds pod addresses (the VPC CNI gives pods
    # VPC IPs), which is why the TargetGroupBinding narrows the pods' security group to the ALB's.
    return {
        "pod_selector": {"match_labels": labels},
        "policy_types": ["Ingress"],
        "ingress": [
            {
                "from_": [{"ip_block": {"cidr": vpc_cidr}}],
                "ports": [{"protocol": "TCP", "port": port}],
            }
        ],
    }


def metrics_ingress_spec(labels: dict[str, str]) -> k8s.networking.v1.NetworkPolicySpecArgsDict:
    # Observability's PodMonitor scrapes the workers' /metrics on their health port; only the
    # operator-made Prometheus pods of the monitoring namespace may connect, and only there.
    return {
        "pod_selector": {"match_labels": labels},
        "policy_types": ["Ingress"],
        "ingress": [
            {
                "from_": [
                    {
                        "namespace_selector": {
                            "match_labels": {"kubernetes.io/metadata.name": MONITORING_NAMESPACE}
                        },
                        "pod_selector": {"match_labels": {"app.kubernetes.io/name": "prometheus"}},
                    }
                ],
                "ports": [{"protocol": "TCP", "port": WORKER_HEALTH_PORT}],
            }
        ],
    }


def egress_spec(name: str, vpc_cidr: str) -> k8s.networking.v1.NetworkPolicySpecArgsDict:
    """DNS, Pod Identity credentials, and HTTPS to AWS APIs and the LLM providers."""
    # NetworkPolicy matches addresses, never hostnames, and AWS and the providers serve from
    # large, shifting public ranges: HTTPS to the internet is as narrow as it can say. The VPC is
    # cut out, so no pod reaches the cluster's private API endpoint or anything else inside;
    # AWS APIs go out through the NAT gateways (the VPC has no interface endpoints). The instance
    # metadata address is cut out too: IMDSv2's hop limit of 1 already keeps pods from the node's
    # credentials, and this keeps it so if a rule here ever opens another port.
    return {
        "pod_selector": {
            "match_labels": {"app.kubernetes.io/instance": name},
            "match_expressions": [
                {"key": "app.kubernetes.io/name", "operator": "In", "values": ["api", "worker"]}
            ],
        },
        "policy_types": ["Egress"],
        "egress": [
            {
                "to": [
                    {
                        "namespace_selector": {
                            "match_labels": {"kubernetes.io/metadata.name": "kube-system"}
                        },
                        "pod_selector": {"match_labels": {"k8s-app": "kube-dns"}},
                    }
                ],
                "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
            },
            {
                "to": [{"ip_block": {"cidr": POD_IDENTITY_AGENT}}],
                "ports": [{"protocol": "TCP", "port": 80}],
            },
            {
                "to": [{"ip_block": {"cidr": ANYWHERE, "except_": [vpc_cidr, INSTANCE_METADATA]}}],
                "ports": [{"protocol": "TCP", "port": HTTPS_PORT}],
            },
        ],
    }
