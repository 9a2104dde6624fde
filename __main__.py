"""The matching platform: one dedicated cluster, its edge, the async workers, and their watch.

Settings are validated before anything is declared, so a bad stack file stops the run with one
clear error instead of a half-made platform.
"""

from typing import Any

import pulumi
from pulumi.runtime.config import CONFIG

from components.cluster import DedicatedCluster, DedicatedClusterArgs
from components.edge import API_TARGET_PORT, EdgeIngress, EdgeIngressArgs
from components.observability import (
    EdgeSignals,
    Observability,
    ObservabilityArgs,
    WatchedCertificate,
)
from components.settings import load_settings
from components.workers import AsyncWorkers, AsyncWorkersArgs


def read_config(key: str) -> Any:
    """Raw config as the CLI hands it over: plain strings for `aws:region`, objects otherwise."""
    namespace, name = key.split(":", 1)
    config = pulumi.Config(namespace)
    if key == "aws:region":
        return config.get(name)
    return config.get_object(name)


# Every key of the stack file, so that one this program never reads is reported, not ignored.
settings = load_settings(pulumi.get_stack(), read_config, CONFIG.get().keys())

cluster = DedicatedCluster(
    "matching",
    DedicatedClusterArgs(
        network=settings.network,
        cluster=settings.cluster,
        protect_state=settings.is_production,
    ),
)

edge = EdgeIngress(
    "matching",
    EdgeIngressArgs(
        settings=settings.edge,
        region=settings.region,
        vpc_id=cluster.vpc_id,
        private_subnet_ids=cluster.private_subnet_ids,
        cluster_name=cluster.cluster_name,
    ),
)

workers = AsyncWorkers(
    "matching",
    AsyncWorkersArgs(
        settings=settings.workers,
        cluster_name=cluster.cluster_name,
        k8s_provider=cluster.k8s_provider,
        target_group_arn=edge.target_group_arn,
        alb_security_group_id=edge.alb_security_group_id,
        api_port=API_TARGET_PORT,
        vpc_cidr=settings.network.vpc_cidr,
        protect_state=settings.is_production,
    ),
)

observability = Observability(
    "matching",
    ObservabilityArgs(
        settings=settings.observability,
        queue_name=workers.queue_name,
        dead_letter_queue_name=workers.dead_letter_queue_name,
        k8s_provider=cluster.k8s_provider,
        cluster_name=cluster.cluster_name,
        protect_state=settings.is_production,
        edge=EdgeSignals(
            alb_arn=edge.alb_arn,
            distribution_id=edge.distribution_id,
            certificates=(
                WatchedCertificate("origin", edge.origin_certificate_arn),
                # The viewer certificate lives, and reports its expiry, in us-east-1.
                WatchedCertificate("viewer", edge.viewer_certificate_arn, region="us-east-1"),
            ),
        ),
    ),
)

pulumi.export("clusterName", cluster.cluster_name)
pulumi.export("publicHostname", settings.edge.public_hostname)
pulumi.export("distributionDomainName", edge.distribution_domain_name)
pulumi.export("queueUrl", workers.queue_url)
pulumi.export("alertTopicArn", observability.alert_topic_arn)
