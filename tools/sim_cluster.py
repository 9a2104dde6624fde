"""The scaling simulator's clock and cluster: an event queue, and pods placed on Karpenter nodes.

Nodes hold a fixed number of worker pods. A pod that fits nowhere stays pending, and Karpenter
launches enough nodes for every pending pod, which become ready after a provisioning delay. A
headroom of placeholder pods keeps room for workers on running nodes: the placeholders have a
lower priority, so the scheduler evicts one at once when a worker needs its room, and Karpenter
then launches a node for the evicted placeholder. A node left empty is consolidated away.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from tools.sim_workload import Message

Action = Callable[[], None]


class Events:
    """A clock that jumps from one scheduled action to the next; ties run in scheduling order."""

    def __init__(self) -> None:
        self.now = 0.0
        self._queue: list[tuple[float, int, Action]] = []
        self._order = itertools.count()

    def at(self, t: float, action: Action) -> None:
        heapq.heappush(self._queue, (t, next(self._order), action))

    def every(self, first: float, period: float, action: Action) -> None:
        def tick() -> None:
            action()
            self.at(self.now + period, tick)

        self.at(first, tick)

    def step(self, limit: float) -> bool:
        """Run the next action unless there is none before `limit`."""
        if not self._queue or self._queue[0][0] > limit:
            return False
        self.now, _, action = heapq.heappop(self._queue)
        action()
        return True


@dataclass
class Node:
    id: int
    pods: set[int] = field(default_factory=set[int])
    placeholders: int = 0

    def used(self) -> int:
        return len(self.pods) + self.placeholders


@dataclass
class Pod:
    id: int
    created_at: float
    scaled: bool
    node: Node | None = None
    bound_at: float = 0.0
    ready_at: float | None = None
    terminating: bool = False
    message: Message | None = None
    task_end: float = 0.0


@dataclass(frozen=True)
class Capacity:
    pods_per_node: int
    node_provision_seconds: float
    headroom_pods: int
    consolidate_after_seconds: float


class Cluster:
    """Where pods run: nodes, the nodes Karpenter is launching, and the headroom placeholders."""

    def __init__(
        self,
        events: Events,
        capacity: Capacity,
        pending: Callable[[], list[Pod]],
        bound: Callable[[Pod], None],
    ) -> None:
        self._events = events
        self._capacity = capacity
        self._pending = pending
        self._bound = bound
        self._node_ids = itertools.count()
        self._nodes: dict[int, Node] = {}
        self._launching = 0
        self._pending_placeholders = 0

    def start(self, pods: list[Pod]) -> None:
        """The steady state before the first arrival: `pods` running, and the headroom held."""
        slots = len(pods) + self._capacity.headroom_pods
        for _ in range(math.ceil(slots / self._capacity.pods_per_node)):
            self._add_node()

        for pod in pods:
            node = self._free_node()
            assert node is not None  # the nodes above were sized for these pods
            pod.node = node
            node.pods.add(pod.id)

        self._pending_placeholders = self._capacity.headroom_pods
        self.schedule()

    def schedule(self) -> None:
        for pod in self._pending():
            node = self._free_node() or self._preempt_placeholder()
            if node is None:
                break
            pod.node, pod.bound_at = node, self._events.now
            node.pods.add(pod.id)
            self._bound(pod)

        while self._pending_placeholders and (node := self._free_node()):
            node.placeholders += 1
            self._pending_placeholders -= 1

        self._provision()

    def release(self, pod: Pod) -> None:
        if pod.node is not None:
            pod.node.pods.discard(pod.id)
            self._consolidate_later(pod.node)
        self.schedule()

    def _add_node(self) -> Node:
        node = Node(next(self._node_ids))
        self._nodes[node.id] = node
        return node

    def _free_node(self) -> Node | None:
        room = self._capacity.pods_per_node
        return next((n for n in self._nodes.values() if n.used() < room), None)

    def _preempt_placeholder(self) -> Node | None:
        node = next((n for n in self._nodes.values() if n.placeholders), None)
        if node is not None:
            node.placeholders -= 1
            self._pending_placeholders += 1
        return node

    def _provision(self) -> None:
        """Karpenter launches enough nodes for every pending pod, placeholders included."""
        pending = len(self._pending()) + self._pending_placeholders
        coming = self._launching * self._capacity.pods_per_node
        for _ in range(math.ceil(max(pending - coming, 0) / self._capacity.pods_per_node)):
            self._launching += 1
            ready_at = self._events.now + self._capacity.node_provision_seconds
            self._events.at(ready_at, self._node_ready)

    def _node_ready(self) -> None:
        self._launching -= 1
        node = self._add_node()
        self.schedule()
        self._consolidate_later(node)

    def _consolidate_later(self, node: Node) -> None:
        # Model assumption: only empty nodes are removed. Karpenter also replaces under-used
        # ones, so the model may keep room for a later scale-up that the cluster gave back.
        def consolidate() -> None:
            if node.id in self._nodes and node.used() == 0:
                del self._nodes[node.id]

        if node.used() == 0:
            later = self._events.now + self._capacity.consolidate_after_seconds
            self._events.at(later, consolidate)
