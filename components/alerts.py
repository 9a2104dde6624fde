"""Every alert of the platform, in one catalogue: what it means, how bad it is, where to read up.

The catalogue is the single source for both sides. The in-cluster alerts become the groups of a
PrometheusRule and, from the very same dictionaries, a plain rule file that `promtool check rules`
and `promtool test rules` read. The AWS-side alerts (CloudWatch alarms, budget notifications) take
their description and runbook link from here, so an alert e-mail always names its runbook section.
The runbook document's address depends on where the repository lives, so it is a stack setting
(`observability.runbookUrl`), and every link is that address plus the alert's section anchor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from components.workloads import WORKLOAD_NAMESPACE

Severity = Literal["critical", "warning"]

# The restart counter climbs by one per crash; three in a quarter hour is a crash loop (the
# kubelet's back-off keeps a crashing pod to about one restart every five minutes), two is not.
RESTART_WINDOW = "15m"
RESTARTS_TOLERATED = 2
# The kubelet sets a pressure condition after its eviction threshold is crossed and clears it
# after the transition period (5 min by default): five minutes on means it is not flapping.
NODE_PRESSURE_FOR = "5m"
PRESSURE_CONDITIONS = ("MemoryPressure", "DiskPressure", "PIDPressure")

RULE_GROUP = "matching-platform"


@dataclass(frozen=True)
class Alert:
    """One alert as the on-call engineer meets it: a name, a severity, and what to do."""

    name: str
    severity: Severity
    summary: str
    description: str

    @property
    def anchor(self) -> str:
        """The runbook section is headed by the alert's name; GitHub's slug of it."""
        return github_anchor(self.name)

    def runbook_link(self, runbook_url: str) -> str:
        """This alert's section of the runbook document at `runbook_url`."""
        return f"{runbook_url}#{self.anchor}"

    def alarm_description(self, runbook_url: str) -> str:
        """The text a CloudWatch alarm carries into its SNS message (at most 1,024 characters)."""
        link = self.runbook_link(runbook_url)
        return f"[{self.severity}] {self.summary} {self.description} Runbook: {link}"


@dataclass(frozen=True)
class PrometheusAlert(Alert):
    """An alert Prometheus evaluates; `expr` and `for_` go into the rule unchanged."""

    expr: str
    for_: str

    def rule(self, runbook_url: str) -> dict[str, Any]:
        return {
            "alert": self.name,
            "expr": self.expr,
            "for": self.for_,
            "labels": {"severity": self.severity},
            "annotations": {
                "summary": self.summary,
                "description": self.description,
                "runbook_url": self.runbook_link(runbook_url),
            },
        }


QUEUE_BACKLOG = Alert(
    name="QueueBacklogSustained",
    severity="warning",
    summary="The matching queue has stayed above its depth threshold for 15 minutes.",
    description="Workers are not keeping up with arrivals: check worker replicas, KEDA and nodes.",
)
OLDEST_MESSAGE = Alert(
    name="OldestMessageOverSla",
    severity="critical",
    summary="A record has waited in the matching queue longer than the matching SLA.",
    description="Clients are waiting past the agreed time: scale workers or find what blocks them.",
)
DEAD_LETTERS = Alert(
    name="DeadLettersPresent",
    severity="warning",
    summary="Records failed every delivery attempt and wait in the dead-letter queue.",
    description="Each one is a client record that was never matched: inspect, fix, then redrive.",
)
WORKER_RESTARTS = PrometheusAlert(
    name="WorkerPodRestarting",
    severity="warning",
    summary="Pod {{ $labels.pod }} restarted {{ $value | humanize }} times in 15 minutes.",
    description=(
        "Container {{ $labels.container }} of {{ $labels.namespace }}/{{ $labels.pod }} is "
        "crash-looping; records it held reappear on the queue after their visibility timeout."
    ),
    expr=(
        "sum by (namespace, pod, container) ("
        "increase(kube_pod_container_status_restarts_total"
        f'{{namespace="{WORKLOAD_NAMESPACE}"}}[{RESTART_WINDOW}])'
        f") > {RESTARTS_TOLERATED}"
    ),
    for_="0m",
)
ERROR_RATE = Alert(
    name="ErrorRateSpike",
    severity="critical",
    summary="More than 5 % of API requests fail with a 5xx at CloudFront or at the ALB.",
    description="Clients see server errors: compare CloudFront and ALB to find the failing hop.",
)
CERTIFICATE_EXPIRY = Alert(
    name="CertificateExpiring",
    severity="critical",
    summary="An ACM certificate of the API expires within 45 days, or reports no expiry at all.",
    description="ACM renews 60 days ahead, so renewal has failed: check its DNS validation.",
)
NODE_PRESSURE = PrometheusAlert(
    name="NodeUnderPressure",
    severity="warning",
    summary="Node {{ $labels.node }} reports {{ $labels.condition }} for 5 minutes.",
    description=(
        "The kubelet on {{ $labels.node }} is evicting pods or refusing new ones; workers on it "
        "may be stopped mid-task."
    ),
    expr=(
        "max by (node, condition) (kube_node_status_condition"
        f'{{condition=~"{"|".join(PRESSURE_CONDITIONS)}",status="true"}}) == 1'
    ),
    for_=NODE_PRESSURE_FOR,
)
BUDGET = Alert(
    name="BudgetThresholdReached",
    severity="warning",
    summary="The month's AWS cost, actual or forecast, has reached a budget threshold.",
    description="Find the service that grew in Cost Explorer before the month closes.",
)

ALERTS: tuple[Alert, ...] = (
    QUEUE_BACKLOG,
    OLDEST_MESSAGE,
    DEAD_LETTERS,
    WORKER_RESTARTS,
    ERROR_RATE,
    CERTIFICATE_EXPIRY,
    NODE_PRESSURE,
    BUDGET,
)
PROMETHEUS_ALERTS: tuple[PrometheusAlert, ...] = tuple(
    alert for alert in ALERTS if isinstance(alert, PrometheusAlert)
)


def rule_groups(runbook_url: str) -> list[dict[str, Any]]:
    """The rule groups, shaped alike for a PrometheusRule's `spec` and a promtool rule file."""
    rules = [alert.rule(runbook_url) for alert in PROMETHEUS_ALERTS]
    return [{"name": RULE_GROUP, "rules": rules}]


def rule_file(groups: list[dict[str, Any]]) -> str:
    """`groups` as a plain rule file (no CRD wrapper), which Prometheus' tools check and test.

    Keys are sorted: the planner renders the groups as the engine recorded them, in no set order,
    and the same rules must give the same file either way.
    """
    return yaml.safe_dump({"groups": groups}, sort_keys=True, width=100)


def github_anchor(heading: str) -> str:
    """The fragment GitHub gives a Markdown heading: lower case, punctuation dropped, dashes."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")
