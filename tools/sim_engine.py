"""A discrete-event model of the queue, its workers, KEDA, the HPA and Karpenter's nodes.

One run follows every message and every pod from the first arrival until the horizon has passed
and no message is left in the queue or in a worker. Pods are placed on nodes of a fixed size;
a pod that fits nowhere waits for a node, which Karpenter brings up after a provisioning delay.
An optional headroom of placeholder pods keeps room for workers on running nodes, and the
scheduler evicts a placeholder at once when a worker needs its room (it has a lower priority).
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from components.settings import WorkerSettings
from components.workers import worker_grace_period_seconds
from tools.sim_hpa import (
    Autoscaler,
    Behavior,
    average_value_replicas,
    program_behavior,
    utilization_replicas,
)
from tools.sim_workload import Workload

Metric = Literal["queue", "cpu"]
# `after_task`: the worker deletes a message once matched, so SQS keeps it until then.
# `on_receive`: deletes it at once, the mistake that turns a killed worker into a lost record.
Ack = Literal["after_task", "on_receive"]
MessageState = Literal["waiting", "visible", "held", "taken", "lapsing", "done", "dead", "lost"]

# After the horizon, a run goes on while messages remain, but no longer than this.
DRAIN_LIMIT_SECONDS = 12 * 3600


@dataclass(frozen=True)
class SimConfig:
    min_replicas: int
    max_replicas: int
    queue_length: int
    scale_on_in_flight: bool
    cooldown_seconds: int
    behavior: Behavior
    visibility_timeout_seconds: int
    grace_seconds: int
    max_receive_count: int
    metric: Metric = "queue"
    ack: Ack = "after_task"
    polling_seconds: float = 15.0
    sync_seconds: float = 15.0
    # Where the first arrival falls in the HPA's 15 s loop: 7.5 s is the mean wait for a sync.
    sync_phase_seconds: float = 7.5
    pod_start_seconds: float = 20.0
    node_provision_seconds: float = 60.0
    pods_per_node: int = 4
    headroom_pods: int = 0
    consolidate_after_seconds: float = 60.0
    cpu_target: float = 0.7
    # A worker waits on the LLM for nearly all of a task, so it barely uses its CPU request.
    cpu_busy: float = 0.10
    cpu_idle: float = 0.10


def config_for(settings: WorkerSettings) -> SimConfig:
    """The stack's own scaling: its settings, and the HPA behaviour the program derives."""
    return SimConfig(
        min_replicas=settings.min_replicas,
        max_replicas=settings.max_replicas,
        queue_length=settings.messages_per_worker,
        scale_on_in_flight=settings.scale_on_in_flight,
        cooldown_seconds=settings.cooldown_seconds,
        behavior=program_behavior(settings),
        visibility_timeout_seconds=settings.visibility_timeout_seconds,
        grace_seconds=worker_grace_period_seconds(settings),
        max_receive_count=settings.max_receive_count,
    )


@dataclass
class Message:
    sent_at: float
    service_seconds: float
    state: MessageState = "waiting"
    receives: int = 0
    received_at: float = 0.0
    first_received_at: float | None = None


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
class Sample:
    t: float
    replicas: int
    ready: int
    visible: int
    in_flight: int


@dataclass(frozen=True)
class Result:
    arrived: int
    completed: int
    dead_lettered: int
    lost: int
    unfinished: int
    interrupted: int
    redelivered: int
    first_scaled_ready: float | None
    all_max_ready: float | None
    drained_at: float | None
    waits: tuple[float, ...]
    unreceived: int
    worker_seconds: float
    peak_ready: int
    samples: tuple[Sample, ...]


class Simulation:
    def __init__(self, config: SimConfig, workload: Workload) -> None:
        self.config = config
        self.workload = workload
        self.now = 0.0
        self._events: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._pod_ids = itertools.count()
        self._node_ids = itertools.count()
        self._messages = [
            Message(t, s) for t, s in zip(workload.arrivals, workload.service_seconds)
        ]
        self._visible: deque[Message] = deque()
        self._in_flight = 0
        self._pods: dict[int, Pod] = {}
        self._nodes: dict[int, Node] = {}
        self._launching = 0
        self._pending_placeholders = 0
        self._hpa = Autoscaler(config.behavior, max(config.min_replicas, 1), config.max_replicas)
        self._last_active = 0.0
        self._counts = dict.fromkeys(("done", "dead", "lost", "interrupted", "redelivered"), 0)
        self._first_scaled_ready: float | None = None
        self._all_max_ready: float | None = None
        self._drained_at: float | None = None
        self._worker_seconds = 0.0
        self._peak_ready = 0
        self._samples: list[Sample] = []

    def run(self) -> Result:
        self._start_cluster()
        for message in self._messages:
            self._at(message.sent_at, lambda m=message: self._arrive(m))
        self._every(self.config.sync_phase_seconds, self._hpa_sync)
        if self.config.metric == "queue":
            self._every(self.config.sync_phase_seconds, self._keda_poll)
        self._every(0.0, self._sample)

        limit = self.workload.horizon_seconds + DRAIN_LIMIT_SECONDS
        while self._events and not self._finished():
            t, _, action = heapq.heappop(self._events)
            if t > limit:
                break
            self.now = t
            action()
        return self._result()

    # The event queue.

    def _at(self, t: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._events, (t, next(self._order), action))

    def _every(self, first: float, action: Callable[[], None]) -> None:
        def tick() -> None:
            action()
            self._at(self.now + self.config.sync_seconds, tick)

        self._at(first, tick)

    def _finished(self) -> bool:
        settled = self._counts["done"] + self._counts["dead"] + self._counts["lost"]
        return self.now >= self.workload.horizon_seconds and settled == len(self._messages)

    # The queue and the workers.

    def _arrive(self, message: Message) -> None:
        message.state = "visible"
        self._visible.append(message)
        self._dispatch()

    def _dispatch(self) -> None:
        idle = [p for p in self._pods.values() if self._idle(p)]
        while self._visible and idle:
            message = self._visible.popleft()
            # SQS moves a message to the dead-letter queue instead of delivering it once more.
            if message.receives >= self.config.max_receive_count:
                message.state = "dead"
                self._counts["dead"] += 1
                continue
            self._take(idle.pop(0), message)

    def _idle(self, pod: Pod) -> bool:
        return pod.ready_at is not None and not pod.terminating and pod.message is None

    def _take(self, pod: Pod, message: Message) -> None:
        message.receives += 1
        message.received_at = self.now
        if message.first_received_at is None:
            message.first_received_at = self.now
        if self.config.ack == "on_receive":
            message.state = "taken"
        else:
            message.state = "held"
            self._in_flight += 1

        pod.message = message
        pod.task_end = self.now + message.service_seconds
        self._at(pod.task_end, lambda: self._task_done(pod, message))

    def _task_done(self, pod: Pod, message: Message) -> None:
        if pod.id not in self._pods or pod.message is not message:
            return  # the pod was killed first; the message went back or was lost then

        if message.state == "held":
            self._in_flight -= 1
        message.state = "done"
        self._counts["done"] += 1
        self._drained_at = self.now
        pod.message = None

        if pod.terminating:
            self._remove(pod)
        else:
            self._dispatch()

    def _reappear(self, message: Message, receives: int) -> None:
        if message.state != "lapsing" or message.receives != receives:
            return
        self._in_flight -= 1
        message.state = "visible"
        self._visible.append(message)
        self._dispatch()
