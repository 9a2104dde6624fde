"""The matching platform's CrossGuard policies, one module per domain.

The pack judges whatever a program registers, so nothing here imports the program's own code:
only `pulumi_policy` and the standard library.
"""

from __future__ import annotations

from pulumi_policy import Policy

from matching_policy import cluster, data, edge, identity, kubernetes, network

ALL_POLICIES: list[Policy] = [
    *edge.POLICIES,
    *network.POLICIES,
    *cluster.POLICIES,
    *data.POLICIES,
    *identity.POLICIES,
    *kubernetes.POLICIES,
]
