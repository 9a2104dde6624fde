"""The HPA's replica decision, as the controller computes it, for the scaling simulator.

Follows the `horizontal` package of kube-controller-manager (`autoscaling/v2` behaviour): a raw
recommendation from the metric, stabilized over the per-direction window (scale-down keeps the
highest recommendation in its window, scale-up the lowest), then limited by the rate policies
over their periods, then clamped to the replica bounds.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from components.settings import WorkerSettings
from components.workers import hpa_behavior

# The HPA ignores a metric within 10 % of its target (`--horizontal-pod-autoscaler-tolerance`),
# so a queue one message above the target does not add a pod.
TOLERANCE = 0.1

PolicyKind = Literal["Pods", "Percent"]
SelectPolicy = Literal["Max", "Min", "Disabled"]


@dataclass(frozen=True)
class Policy:
    kind: PolicyKind
    value: int
    period_seconds: int


@dataclass(frozen=True)
class Rules:
    """One direction of `behavior`: stabilization window, policy selection and policies."""

    stabilization_seconds: int
    select: SelectPolicy
    policies: tuple[Policy, ...]


@dataclass(frozen=True)
class Behavior:
    up: Rules
    down: Rules


# What an HPA does without a `behavior`: up by 100 % or 4 pods per 15 s, whichever is more;
# down by 100 % per 15 s after a 300 s window.
KUBERNETES_DEFAULT = Behavior(
    up=Rules(0, "Max", (Policy("Percent", 100, 15), Policy("Pods", 4, 15))),
    down=Rules(300, "Max", (Policy("Percent", 100, 15),)),
)


def program_behavior(settings: WorkerSettings) -> Behavior:
    """The behaviour the program puts in the ScaledObject, read from the program itself."""
    raw = hpa_behavior(settings)
    return Behavior(up=_rules(raw["scaleUp"]), down=_rules(raw["scaleDown"]))


def _rules(raw: Mapping[str, Any]) -> Rules:
    policies = tuple(
        Policy(p["type"], int(p["value"]), int(p["periodSeconds"])) for p in raw["policies"]
    )
    return Rules(int(raw["stabilizationWindowSeconds"]), raw.get("selectPolicy", "Max"), policies)


def average_value_replicas(metric: float, target: float, current: int) -> int:
    """Raw recommendation for an external metric with an `AverageValue` target (KEDA's kind)."""
    if current > 0 and abs(metric / (target * current) - 1) <= TOLERANCE:
        return current
    return math.ceil(metric / target)


def utilization_replicas(utilization: float, target: float, ready: int) -> int:
    """Raw recommendation for a resource metric: mean utilization of ready pods against a target."""
    ratio = utilization / target
    if ready == 0 or abs(ratio - 1) <= TOLERANCE:
        return ready
    return math.ceil(ratio * ready)


class Autoscaler:
    """The HPA state that outlives one sync: past recommendations and past scale events."""

    def __init__(self, behavior: Behavior, min_replicas: int, max_replicas: int) -> None:
        self._behavior = behavior
        self._min = min_replicas
        self._max = max_replicas
        self._lowest = _WindowExtreme(behavior.up.stabilization_seconds, highest=False)
        self._highest = _WindowExtreme(behavior.down.stabilization_seconds, highest=True)
        self._events: deque[tuple[float, int]] = deque()

    def decide(self, now: float, current: int, raw: int) -> int:
        stabilized = self._stabilize(now, current, raw)

        desired = min(max(self._rate_limited(now, current, stabilized), self._min), self._max)

        self._record(now, desired - current)
        return desired

    def _rate_limited(self, now: float, current: int, stabilized: int) -> int:
        if stabilized > current:
            return min(stabilized, max(self._up_limit(now, current), current))
        if stabilized < current:
            return max(stabilized, min(self._down_limit(now, current), current))
        return current

    def _record(self, now: float, change: int) -> None:
        if change:
            self._events.append((now, change))
        rules = (self._behavior.up, self._behavior.down)
        longest = max((p.period_seconds for r in rules for p in r.policies), default=0)
        while self._events and self._events[0][0] <= now - longest:
            self._events.popleft()

    def _stabilize(self, now: float, current: int, raw: int) -> int:
        up = self._lowest.push(now, raw)
        down = self._highest.push(now, raw)
        return max(min(current, down), up)

    def _changes_within(self, now: float, period: int) -> tuple[int, int]:
        added = sum(c for t, c in self._events if c > 0 and t > now - period)
        removed = -sum(c for t, c in self._events if c < 0 and t > now - period)
        return added, removed

    def _up_limit(self, now: float, current: int) -> int:
        rules = self._behavior.up
        if rules.select == "Disabled":
            return current
        limits: list[int] = []
        for policy in rules.policies:
            added, removed = self._changes_within(now, policy.period_seconds)
            start = current - added + removed
            if policy.kind == "Pods":
                limits.append(start + policy.value)
            else:
                limits.append(math.ceil(start * (1 + policy.value / 100)))
        return max(limits) if rules.select == "Max" else min(limits)

    def _down_limit(self, now: float, current: int) -> int:
        rules = self._behavior.down
        if rules.select == "Disabled":
            return current
        limits: list[int] = []
        for policy in rules.policies:
            added, removed = self._changes_within(now, policy.period_seconds)
            start = current + removed - added
            if policy.kind == "Pods":
                limits.append(start - policy.value)
            else:
                limits.append(int(start * (1 - policy.value / 100)))
        # "Max" picks the policy that removes the most pods, so the lowest floor.
        return min(limits) if rules.select == "Max" else max(limits)


class _WindowExtreme:
    """The highest (or lowest) recommendation of the last `window` seconds, this one included.

    A monotonic deque: a recommendation that a newer, more extreme one outranks can never be the
    answer again, so a day of 15 s syncs under a one-hour window stays cheap.
    """

    def __init__(self, window: float, *, highest: bool) -> None:
        self._window = window
        self._sign = 1 if highest else -1
        self._kept: deque[tuple[float, int]] = deque()

    def push(self, now: float, value: int) -> int:
        while self._kept and self._kept[0][0] <= now - self._window:
            self._kept.popleft()

        while self._kept and self._kept[-1][1] * self._sign <= value * self._sign:
            self._kept.pop()
        self._kept.append((now, value))

        return self._kept[0][1]
