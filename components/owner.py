"""Where a component's children go: their name prefix, their parent and their cluster.

A component's constructor reads as a table of contents; the blocks it calls may live in modules of
their own, and this is what they are handed so that every child is still `f"{name}-<role>"` with
the component as its parent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s


@dataclass(frozen=True)
class Owner:
    """The component that owns a block of resources."""

    name: str
    component: pulumi.Resource
    k8s_provider: k8s.Provider | None = None
    # Whether resources that hold data (queues, tables, keys, secrets) are kept from deletion.
    protect_state: bool = False

    def child(self, **options: Any) -> pulumi.ResourceOptions:
        """Options of an AWS child: parented by the component."""
        return pulumi.ResourceOptions(parent=self.component, **options)

    def stateful(self, **options: Any) -> pulumi.ResourceOptions:
        """Options of a child that holds data: protected where the stack protects state."""
        return self.child(protect=self.protect_state, **options)

    def k8s(self, **options: Any) -> pulumi.ResourceOptions:
        """Options of a Kubernetes child: parented by the component, on its cluster."""
        if self.k8s_provider is None:
            raise ValueError(f"{self.name}: Kubernetes objects need the cluster's provider")
        return pulumi.ResourceOptions(parent=self.component, provider=self.k8s_provider, **options)

    def invoke(self) -> pulumi.InvokeOutputOptions:
        return pulumi.InvokeOutputOptions(parent=self.component)

    def with_cluster(self, provider: k8s.Provider) -> Owner:
        return Owner(self.name, self.component, provider, self.protect_state)


@dataclass(frozen=True)
class Account:
    """The account, region and partition a stack deploys into, as the provider reports them."""

    account_id: pulumi.Output[str]
    region: pulumi.Output[str]
    partition: pulumi.Output[str]

    @classmethod
    def lookup(cls, owner: Owner) -> Account:
        invoke = owner.invoke()
        return cls(
            account_id=aws.get_caller_identity_output(opts=invoke).account_id,
            region=aws.get_region_output(opts=invoke).region,
            partition=aws.get_partition_output(opts=invoke).partition,
        )

    def arn(self, service: str, resource: str, *, regional: bool = True) -> pulumi.Output[str]:
        """`arn:<partition>:<service>:<region>:<account>:<resource>` of this account."""
        region = self.region if regional else ""
        return pulumi.Output.format(
            "arn:{}:{}:{}:{}:{}", self.partition, service, region, self.account_id, resource
        )
