"""The matching platform's CrossGuard policies, one module per domain.

The pack judges whatever a program registers, so nothing here imports the program's own code:
only `pulumi_policy` and the standard library.
"""

from __future__ import annotations

from pulumi_policy import Policy

from matching_policy import (
    accounts,
    buckets,
    charts,
    cluster,
    data,
    edge,
    edge_logging,
    front_doors,
    iam_scope,
    identity,
    kubernetes,
    launchers,
    namespaces,
    network,
    rbac,
    residency,
    scaling,
    volumes,
    waf,
    workloads,
)

ALL_POLICIES: list[Policy] = [
    *edge.POLICIES,
    *edge_logging.POLICIES,
    *waf.POLICIES,
    *front_doors.POLICIES,
    *network.POLICIES,
    *cluster.POLICIES,
    *launchers.POLICIES,
    *volumes.POLICIES,
    *data.POLICIES,
    *buckets.POLICIES,
    *scaling.POLICIES,
    *residency.POLICIES,
    *identity.POLICIES,
    *iam_scope.POLICIES,
    *accounts.POLICIES,
    *kubernetes.POLICIES,
    *namespaces.POLICIES,
    *rbac.POLICIES,
    *charts.POLICIES,
    *workloads.POLICIES,
]
