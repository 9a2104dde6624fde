"""A discrete-event model of the queue, its workers, KEDA, the HPA and Karpenter's nodes.

One run follows every message and every pod from the first arrival until the horizon has passed
and no message is left in the queue or in a worker. KEDA moves the workers between zero and one,
the HPA above one; the ReplicaSet picks which pod goes, and a busy worker it picks finishes its
task within the grace period or is killed, its message then reappearing after its visibility
timeout. Where pods run, and how long a new one waits for a node, is `tools.sim_cluster`.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass
from typing import Literal

from components.settings import WorkerSettings
from components.workers import worker_grace_period_seconds
from tools.sim_cluster import Capacity, Cluster, Events, Pod
from tools.sim_hpa import (
    Autoscaler,
    Behavior,
    average_value_replicas,
    program_behavior,
    utilization_replicas,
)
from tools.sim_workload import Message, Workload

Metric = Literal["queue", "cpu"]
# `after_task`: the worker deletes a message once matched, so SQS keeps it until then.
# `on_receive`: deletes it at once, the mistake that turns a killed worker into a lost record.
Ack = Literal["after_task", "on_receive"]

# After the horizon, a run goes on while messages remain, but no longer than this.
DRAIN_LIMIT_SECONDS = 12 * 3600

# Defaults of the model's own assumptions, none of which the stack files set. A worker pod needs
# about 20 s from binding to its first receive (cached image, startup probe); Karpenter needs about
# a minute from a pending pod to a ready node. The arrival falls on average half-way between two
# HPA syncs. A node holds four workers (250m CPU and 512Mi each, beside the daemonsets).
POD_START_SECONDS = 20.0
NODE_PROVISION_SECONDS = 60.0
SYNC_PHASE_SECONDS = 7.5
PODS_PER_NODE = 4


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
    # When the first HPA sync falls after the first arrival, within the HPA's 15 s loop.
    sync_phase_seconds: float = SYNC_PHASE_SECONDS
    pod_start_seconds: float = POD_START_SECONDS
    node_provision_seconds: float = NODE_PROVISION_SECONDS
    pods_per_node: int = PODS_PER_NODE
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
        headroom_pods=settings.headroom_pods,
    )


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
        self._events = Events()
        capacity = Capacity(
            config.pods_per_node,
            config.node_provision_seconds,
            config.headroom_pods,
            config.consolidate_after_seconds,
        )
        self._cluster = Cluster(self._events, capacity, self._unscheduled, self._bound)
        self._pod_ids = itertools.count()
        self._pods: dict[int, Pod] = {}
        self._messages = [
            Message(t, s) for t, s in zip(workload.arrivals, workload.service_seconds, strict=True)
        ]
        self._visible: deque[Message] = deque()
        self._in_flight = 0
        self._hpa = Autoscaler(config.behavior, max(config.min_replicas, 1), config.max_replicas)
        self._last_active = 0.0
        self._counts = dict.fromkeys(("done", "dead", "lost", "interrupted", "redelivered"), 0)
        self._first_scaled_ready: float | None = None
        self._all_max_ready: float | None = None
        self._drained_at: float | None = None
        self._worker_seconds = 0.0
        self._peak_ready = config.min_replicas
        self._samples: list[Sample] = []

    @property
    def now(self) -> float:
        return self._events.now

    def run(self) -> Result:
        self._start()

        limit = self.workload.horizon_seconds + DRAIN_LIMIT_SECONDS
        while not self._finished() and self._events.step(limit):
            pass
        return self._result()

    def _start(self) -> None:
        initial = [self._add_pod(scaled=False) for _ in range(self.config.min_replicas)]
        for pod in initial:
            pod.ready_at = 0.0
        self._cluster.start(initial)

        events, period = self._events, self.config.sync_seconds
        for message in self._messages:
            events.at(message.sent_at, lambda m=message: self._arrive(m))
        events.every(self.config.sync_phase_seconds, period, self._hpa_sync)
        if self.config.metric == "queue":
            events.every(self.config.sync_phase_seconds, period, self._keda_poll)
        events.every(0.0, period, self._sample)

    def _finished(self) -> bool:
        settled = self._counts["done"] + self._counts["dead"] + self._counts["lost"]
        return self.now >= self.workload.horizon_seconds and settled == len(self._messages)

    # The queue and the workers.

    def _arrive(self, message: Message) -> None:
        message.state = "visible"
        self._visible.append(message)
        self._dispatch()

    def _dispatch(self) -> None:
        # Model assumption: a worker matches one message at a time, as the image contract in
        # docs/handover.md says; `messagesPerWorker` only sets KEDA's target.
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
        self._events.at(pod.task_end, lambda: self._task_done(pod, message))

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

    # Scaling: KEDA below one replica, the HPA above.

    def _metric(self) -> int:
        # Model assumption: exact counts. SQS's approximate counts trail the truth for a while
        # after sends stop and KEDA may cache them, so real scaling reacts a little later.
        return len(self._visible) + (self._in_flight if self.config.scale_on_in_flight else 0)

    def _keda_poll(self) -> None:
        """KEDA alone moves between zero and one replica, and only zero waits out the cooldown."""
        metric = self._metric()
        if metric > 0:
            self._last_active = self.now
        replicas = self._replicas()

        idle_for = self.now - self._last_active
        if replicas == 0 and metric > 0:
            self._scale_to(1)
        elif (
            replicas > 0
            and self.config.min_replicas == 0
            and idle_for >= self.config.cooldown_seconds
        ):
            self._scale_to(0)

    def _hpa_sync(self) -> None:
        replicas = self._replicas()
        if replicas == 0:
            return  # a workload at zero has no HPA decisions until KEDA activates it

        if self.config.metric == "queue":
            raw = average_value_replicas(self._metric(), self.config.queue_length, replicas)
        else:
            raw = self._cpu_recommendation(replicas)

        self._scale_to(self._hpa.decide(self.now, replicas, raw))

    def _cpu_recommendation(self, replicas: int) -> int:
        ready = [p for p in self._pods.values() if p.ready_at is not None and not p.terminating]
        if not ready:
            return replicas
        busy = sum(1 for p in ready if p.message is not None)
        config = self.config
        utilization = (busy * config.cpu_busy + (len(ready) - busy) * config.cpu_idle) / len(ready)
        return utilization_replicas(utilization, config.cpu_target, len(ready))

    def _replicas(self) -> int:
        return sum(1 for p in self._pods.values() if not p.terminating)

    def _scale_to(self, replicas: int) -> None:
        live = [p for p in self._pods.values() if not p.terminating]
        for _ in range(replicas - len(live)):
            self._add_pod(scaled=True)
        # The ReplicaSet removes unscheduled, then unready, then the most recently ready pods
        # first; whether a pod is in the middle of a task plays no part.
        doomed = sorted(live, key=_removal_rank)[: max(len(live) - replicas, 0)]
        for pod in doomed:
            self._terminate(pod)
        self._cluster.schedule()

    def _terminate(self, pod: Pod) -> None:
        if pod.message is None:
            self._remove(pod)
            return

        # The preStop hook stops the worker receiving and waits for its task; the kubelet kills
        # it when the grace period runs out, whether or not the task is done.
        self._counts["interrupted"] += 1
        pod.terminating = True
        deadline = self.now + self.config.grace_seconds
        if pod.task_end > deadline:
            self._events.at(deadline, lambda: self._kill(pod))

    def _kill(self, pod: Pod) -> None:
        if pod.id not in self._pods:
            return
        message, pod.message = pod.message, None

        if message is not None and message.state == "held":
            # Nobody gives the message back: it reappears when its visibility timeout lapses.
            message.state = "lapsing"
            self._counts["redelivered"] += 1
            expiry = message.received_at + self.config.visibility_timeout_seconds
            self._events.at(expiry, lambda r=message.receives: self._reappear(message, r))
        elif message is not None and message.state == "taken":
            message.state = "lost"
            self._counts["lost"] += 1
        self._remove(pod)

    # Pods.

    def _add_pod(self, *, scaled: bool) -> Pod:
        pod = Pod(next(self._pod_ids), self.now, scaled)
        self._pods[pod.id] = pod
        return pod

    def _unscheduled(self) -> list[Pod]:
        return [p for p in self._pods.values() if p.node is None]

    def _bound(self, pod: Pod) -> None:
        self._events.at(self.now + self.config.pod_start_seconds, lambda: self._ready(pod))

    def _ready(self, pod: Pod) -> None:
        if pod.id not in self._pods:
            return
        pod.ready_at = self.now

        ready = sum(1 for p in self._pods.values() if p.ready_at is not None)
        self._peak_ready = max(self._peak_ready, ready)
        if pod.scaled and self._first_scaled_ready is None:
            self._first_scaled_ready = self.now
        if ready >= self.config.max_replicas and self._all_max_ready is None:
            self._all_max_ready = self.now

        self._dispatch()

    def _remove(self, pod: Pod) -> None:
        del self._pods[pod.id]
        if pod.node is not None:
            self._worker_seconds += self.now - pod.bound_at
        self._cluster.release(pod)

    # Reporting.

    def _sample(self) -> None:
        ready = sum(1 for p in self._pods.values() if p.ready_at is not None)
        sample = Sample(self.now, self._replicas(), ready, len(self._visible), self._in_flight)
        self._samples.append(sample)

    def _result(self) -> Result:
        for pod in self._pods.values():
            if pod.node is not None:
                self._worker_seconds += self.now - pod.bound_at
        start = self.workload.arrivals[0] if self.workload.arrivals else 0.0
        waits: list[float] = []
        unreceived: list[float] = []
        for m in self._messages:
            if m.first_received_at is None:
                unreceived.append(self.now - m.sent_at)  # a lower bound: it is still waiting
            else:
                waits.append(m.first_received_at - m.sent_at)
        unfinished = ("visible", "held", "taken", "lapsing", "waiting")

        return Result(
            arrived=len(self._messages),
            completed=self._counts["done"],
            dead_lettered=self._counts["dead"],
            lost=self._counts["lost"],
            unfinished=sum(1 for m in self._messages if m.state in unfinished),
            interrupted=self._counts["interrupted"],
            redelivered=self._counts["redelivered"],
            first_scaled_ready=_since(self._first_scaled_ready, start),
            all_max_ready=_since(self._all_max_ready, start),
            drained_at=_since(self._drained_at, start),
            waits=tuple(sorted(waits + unreceived)),
            unreceived=len(unreceived),
            worker_seconds=self._worker_seconds,
            peak_ready=self._peak_ready,
            samples=tuple(self._samples),
        )


def _removal_rank(pod: Pod) -> tuple[int, int, float, float]:
    ready_at = pod.ready_at if pod.ready_at is not None else 0.0
    return (pod.node is not None, pod.ready_at is not None, -ready_at, -pod.created_at)


def _since(t: float | None, start: float) -> float | None:
    return None if t is None else t - start


def simulate(config: SimConfig, workload: Workload) -> Result:
    return Simulation(config, workload).run()
