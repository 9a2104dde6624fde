"""One EdgeIngress built under the mocks, shared by the tests of its modules."""

from __future__ import annotations

from collections.abc import Callable

import pulumi
import pulumi_aws as aws

from components.edge import EdgeIngress, EdgeIngressArgs
from components.settings import StackSettings

NAME = "matching"
COMPONENT = "matching:platform:EdgeIngress"
# The network the component is given, made by the test body outside the component.
FIXTURE = "net"
CLUSTER = "matching-cluster"


def build(settings: StackSettings) -> Callable[[], None]:
    """The body that declares one EdgeIngress as `__main__.py` does, for `run_component`."""

    def body() -> None:
        vpc = aws.ec2.Vpc(f"{FIXTURE}-vpc", cidr_block=settings.network.vpc_cidr)
        private = [
            aws.ec2.Subnet(f"{FIXTURE}-private-{index}", vpc_id=vpc.id, cidr_block=cidr)
            for index, cidr in enumerate(("10.0.0.0/19", "10.0.32.0/19"))
        ]
        EdgeIngress(
            NAME,
            EdgeIngressArgs(
                settings=settings.edge,
                region=settings.region,
                vpc_id=vpc.id,
                private_subnet_ids=pulumi.Output.all(*[subnet.id for subnet in private]),
                cluster_name=CLUSTER,
            ),
        )

    return body
