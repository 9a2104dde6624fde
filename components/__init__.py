"""The four reusable components of the matching platform, all typed `matching:platform:<Name>`."""

from components.cluster import DedicatedCluster, DedicatedClusterArgs
from components.edge import EdgeIngress, EdgeIngressArgs
from components.observability import Observability, ObservabilityArgs
from components.workers import AsyncWorkers, AsyncWorkersArgs

__all__ = [
    "AsyncWorkers",
    "AsyncWorkersArgs",
    "DedicatedCluster",
    "DedicatedClusterArgs",
    "EdgeIngress",
    "EdgeIngressArgs",
    "Observability",
    "ObservabilityArgs",
]
