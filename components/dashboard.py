"""The platform's one Grafana dashboard, as code: from the edge to the bill, top to bottom.

Built with grafana-foundation-sdk and rendered to the JSON model Grafana stores. Each row answers
one question of the on-call engineer, in the order a request travels: is the edge healthy, is
the queue draining, are workers scaling, are pods and nodes well, and what does it cost. Panels
over AWS services query CloudWatch; panels over the cluster query Prometheus.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from grafana_foundation_sdk.builders import cloudwatch as cw
from grafana_foundation_sdk.builders import dashboard as gd
from grafana_foundation_sdk.builders import prometheus as prom
from grafana_foundation_sdk.builders import stat, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import cloudwatch as cwm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import prometheus as pm
from grafana_foundation_sdk.models.dashboard import Panel as PanelModel

from components.alerts import RESTARTS_TOLERATED
from components.workloads import WORKLOAD_NAMESPACE

DASHBOARD_UID = "matching-platform"
DASHBOARD_TITLE = "Matching platform"
# The chart provisions Prometheus under this uid; the CloudWatch source is ours (observability.py).
PROMETHEUS_UID = "prometheus"
CLOUDWATCH_UID = "cloudwatch"

# CloudFront, its WAF and the account's billing metrics exist in us-east-1 only.
GLOBAL_REGION = "us-east-1"
GRID_COLUMNS = 24
PANEL_HEIGHT = 8
# The error rate the ErrorRateSpike alarms fire at, drawn as the panel's red line.
ERROR_RATE_PERCENT = 5
# The API only validates and enqueues: an answer slower than a second is already slow.
SLOW_RESPONSE_SECONDS = 1.0

PanelKind = Literal["timeseries", "stat"]
Target = cogbuilder.Builder[pm.Dataquery] | cogbuilder.Builder[cwm.CloudWatchMetricsQuery]


@dataclass(frozen=True)
class DashboardSources:
    """The names CloudWatch knows the platform's resources by, and the limits drawn as lines."""

    region: str
    queue_name: str
    dead_letter_queue_name: str
    load_balancer: str
    distribution_id: str
    monthly_budget_usd: int
    queue_depth_alarm: int
    oldest_message_sla_seconds: int


@dataclass(frozen=True)
class PanelSpec:
    """What a panel shows and how it reads; position and id come from the layout."""

    title: str
    description: str
    unit: str
    targets: Sequence[Target]
    datasource: str
    kind: PanelKind = "timeseries"
    # (value, colour) steps above the green base; empty where no line means anything.
    thresholds: Sequence[tuple[float, str]] = field(default_factory=tuple[tuple[float, str], ...])


def dashboard_json(sources: DashboardSources) -> str:
    """The dashboard as Grafana's JSON model, stable across runs so diffs show real changes."""
    return JSONEncoder(sort_keys=True, indent=2).encode(build_dashboard(sources))


def dashboard_model(sources: DashboardSources) -> dict[str, object]:
    return json.loads(dashboard_json(sources))


def build_dashboard(sources: DashboardSources) -> dm.Dashboard:
    rows = [
        ("Edge and API", _edge_panels(sources)),
        ("Queue", _queue_panels(sources)),
        ("Workers and KEDA", _worker_panels(sources)),
        ("Pods", _pod_panels()),
        ("Nodes", _node_panels()),
        ("Cost", _cost_panels(sources)),
    ]
    builder = (
        gd.Dashboard(DASHBOARD_TITLE)
        .uid(DASHBOARD_UID)
        .tags(["matching-platform", "generated"])
        .time("now-24h", "now")
        .refresh("1m")
        .timezone("utc")
        .editable()
    )
    _lay_out(builder, rows)
    return builder.build()


def _lay_out(builder: gd.Dashboard, rows: Sequence[tuple[str, Sequence[PanelSpec]]]) -> None:
    """Rows span the grid, their panels share its width; ids count up in reading order."""
    next_id, y = 1, 0
    for title, panels in rows:
        row_position = dm.GridPos(h=1, w=GRID_COLUMNS, x=0, y=y)
        builder.with_row(gd.Row(title).id(next_id).grid_pos(row_position))
        next_id, y = next_id + 1, y + 1
        width = GRID_COLUMNS // len(panels)
        for column, spec in enumerate(panels):
            position = dm.GridPos(h=PANEL_HEIGHT, w=width, x=column * width, y=y)
            builder.with_panel(_panel(spec, next_id, position))
            next_id += 1
        y += PANEL_HEIGHT


def _panel(spec: PanelSpec, panel_id: int, position: dm.GridPos) -> cogbuilder.Builder[PanelModel]:
    uid_type = "prometheus" if spec.datasource == PROMETHEUS_UID else "cloudwatch"
    steps = [dm.Threshold(value=None, color="green")]
    steps += [dm.Threshold(value=value, color=colour) for value, colour in spec.thresholds]
    thresholds = gd.ThresholdsConfig().mode(dm.ThresholdsMode.ABSOLUTE).steps(steps)
    panel = timeseries.Panel() if spec.kind == "timeseries" else stat.Panel()
    panel.id(panel_id).title(spec.title).description(spec.description).unit(spec.unit)
    panel.datasource(dm.DataSourceRef(type_val=uid_type, uid=spec.datasource))
    panel.thresholds(thresholds).grid_pos(position)
    for target in spec.targets:
        panel.with_target(target)
    return panel


def _promql(ref: str, expr: str, legend: str) -> prom.Dataquery:
    return prom.Dataquery().ref_id(ref).expr(expr).legend_format(legend).range()


def _metric(
    ref: str,
    region: str,
    namespace: str,
    metric: str,
    dimensions: dict[str, str],
    *,
    stat: str,
    label: str,
    period: int = 60,
    exact: bool = True,
) -> cw.CloudWatchMetricsQuery:
    return (
        _query(ref)
        .metric_editor_mode(cwm.MetricEditorMode.BUILDER)
        .region(region)
        .namespace(namespace)
        .metric_name(metric)
        .dimensions(dict(dimensions))
        .match_exact(exact)
        .statistic(stat)
        .period(str(period))
        .label(label)
    )


def _query(ref: str) -> cw.CloudWatchMetricsQuery:
    """A CloudWatch metrics query that other queries of its panel can refer to by `ref`."""
    return (
        cw.CloudWatchMetricsQuery()
        .ref_id(ref)
        .id(ref.lower())
        .query_mode(cwm.CloudWatchQueryMode.METRICS)
        .metric_query_type(cwm.MetricQueryType.SEARCH)
    )


def _math(ref: str, expression: str, label: str) -> cw.CloudWatchMetricsQuery:
    """A metric-math query over other queries of the panel, referenced by their lower-case ids."""
    return (
        _query(ref)
        .metric_editor_mode(cwm.MetricEditorMode.CODE)
        .expression(expression)
        .label(label)
    )


def _edge_panels(s: DashboardSources) -> list[PanelSpec]:
    cdn = {"DistributionId": s.distribution_id, "Region": "Global"}
    alb = {"LoadBalancer": s.load_balancer}
    return [
        PanelSpec(
            title="Requests per minute",
            description="Viewer requests at CloudFront and the requests they become at the ALB.",
            unit="short",
            datasource=CLOUDWATCH_UID,
            targets=[
                _metric(
                    "A", GLOBAL_REGION, "AWS/CloudFront", "Requests", cdn, stat="Sum", label="cdn"
                ),
                _metric(
                    "B",
                    s.region,
                    "AWS/ApplicationELB",
                    "RequestCount",
                    alb,
                    stat="Sum",
                    label="alb",
                ),
            ],
        ),
        PanelSpec(
            title="5xx error rate",
            description="Share of requests answered with a 5xx; the red line is where alarms fire.",
            unit="percent",
            datasource=CLOUDWATCH_UID,
            thresholds=[(1, "yellow"), (ERROR_RATE_PERCENT, "red")],
            targets=[
                _metric(
                    "A",
                    GLOBAL_REGION,
                    "AWS/CloudFront",
                    "5xxErrorRate",
                    cdn,
                    stat="Average",
                    label="cloudfront",
                ),
                _metric(
                    "B",
                    s.region,
                    "AWS/ApplicationELB",
                    "HTTPCode_Target_5XX_Count",
                    alb,
                    stat="Sum",
                    label="target 5xx",
                ).hide(True),
                _metric(
                    "C",
                    s.region,
                    "AWS/ApplicationELB",
                    "HTTPCode_ELB_5XX_Count",
                    alb,
                    stat="Sum",
                    label="alb 5xx",
                ).hide(True),
                _metric(
                    "D",
                    s.region,
                    "AWS/ApplicationELB",
                    "RequestCount",
                    alb,
                    stat="Sum",
                    label="requests",
                ).hide(True),
                _math("E", "100 * (FILL(b, 0) + FILL(c, 0)) / d", "alb"),
            ],
        ),
        PanelSpec(
            title="ALB response time percentiles",
            description="Time the API pods take to answer, at the 50th, 90th and 99th percentile.",
            unit="s",
            datasource=CLOUDWATCH_UID,
            thresholds=[(SLOW_RESPONSE_SECONDS, "yellow"), (5 * SLOW_RESPONSE_SECONDS, "red")],
            targets=[
                _metric(
                    "A", s.region, "AWS/ApplicationELB", "TargetResponseTime", alb, stat=p, label=p
                )
                for p in ("p50", "p90", "p99")
            ],
        ),
        PanelSpec(
            title="WAF blocked requests",
            description="Requests the web ACL blocked per minute, all rules; spikes mean an attack "
            "or a client tripping the rate limit.",
            unit="short",
            datasource=CLOUDWATCH_UID,
            # The CLOUDFRONT-scope web ACL is the only one in the account: match it by rule alone.
            targets=[
                _metric(
                    "A",
                    GLOBAL_REGION,
                    "AWS/WAFV2",
                    "BlockedRequests",
                    {"Rule": "ALL"},
                    stat="Sum",
                    label="blocked",
                    exact=False,
                )
            ],
        ),
    ]


def _queue_panels(s: DashboardSources) -> list[PanelSpec]:
    queue, dead = {"QueueName": s.queue_name}, {"QueueName": s.dead_letter_queue_name}
    sla = s.oldest_message_sla_seconds
    return [
        PanelSpec(
            title="Queue depth",
            description="Records waiting (visible) and being matched (in flight); red is the "
            "backlog alarm's threshold.",
            unit="short",
            datasource=CLOUDWATCH_UID,
            thresholds=[(s.queue_depth_alarm, "red")],
            targets=[
                _metric(
                    "A",
                    s.region,
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    queue,
                    stat="Maximum",
                    label="waiting",
                ),
                _metric(
                    "B",
                    s.region,
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesNotVisible",
                    queue,
                    stat="Maximum",
                    label="in flight",
                ),
            ],
        ),
        PanelSpec(
            title="Age of oldest message",
            description="How long the oldest waiting record has queued; red is the matching SLA.",
            unit="s",
            datasource=CLOUDWATCH_UID,
            thresholds=[(sla / 2, "yellow"), (sla, "red")],
            targets=[
                _metric(
                    "A",
                    s.region,
                    "AWS/SQS",
                    "ApproximateAgeOfOldestMessage",
                    queue,
                    stat="Maximum",
                    label="oldest",
                )
            ],
        ),
        PanelSpec(
            title="Dead-letter queue",
            description="Records that failed every delivery; anything above zero needs a look.",
            unit="short",
            kind="stat",
            datasource=CLOUDWATCH_UID,
            thresholds=[(1, "red")],
            targets=[
                _metric(
                    "A",
                    s.region,
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    dead,
                    stat="Maximum",
                    label="dead letters",
                )
            ],
        ),
    ]


def _worker_panels(s: DashboardSources) -> list[PanelSpec]:
    hpa = f'namespace="{WORKLOAD_NAMESPACE}",horizontalpodautoscaler=~"keda-hpa-.+"'
    keda = f'namespace="{WORKLOAD_NAMESPACE}"'
    return [
        PanelSpec(
            title="Worker replicas",
            description="Replicas the HPA that KEDA drives wants, has, and may at most run.",
            unit="short",
            datasource=PROMETHEUS_UID,
            targets=[
                _promql(
                    "A", f"kube_horizontalpodautoscaler_status_desired_replicas{{{hpa}}}", "desired"
                ),
                _promql(
                    "B", f"kube_horizontalpodautoscaler_status_current_replicas{{{hpa}}}", "current"
                ),
                _promql("C", f"kube_horizontalpodautoscaler_spec_max_replicas{{{hpa}}}", "max"),
            ],
        ),
        PanelSpec(
            title="KEDA scaler metric",
            description="The queue depth KEDA hands the HPA; replicas follow it divided by the "
            "messages per worker.",
            unit="short",
            datasource=PROMETHEUS_UID,
            thresholds=[(s.queue_depth_alarm, "red")],
            targets=[
                _promql("A", f"keda_scaler_metrics_value{{{keda}}}", "{{scaledObject}}"),
            ],
        ),
        PanelSpec(
            title="KEDA scaler errors",
            description="Failed reads of the queue by KEDA per second; while above zero the "
            "workers do not scale.",
            unit="cps",
            datasource=PROMETHEUS_UID,
            thresholds=[(0.001, "red")],
            targets=[
                _promql(
                    "A",
                    f"sum by (scaledObject) (rate(keda_scaler_detail_errors_total{{{keda}}}[5m]))",
                    "scaler {{scaledObject}}",
                ),
                _promql(
                    "B",
                    f"sum by (scaledObject) (rate(keda_scaled_object_errors_total{{{keda}}}[5m]))",
                    "object {{scaledObject}}",
                ),
            ],
        ),
    ]


def _pod_panels() -> list[PanelSpec]:
    pods = f'namespace="{WORKLOAD_NAMESPACE}"'
    return [
        PanelSpec(
            title="Container restarts (15 min)",
            description="Restarts per pod over the last quarter hour; red is where "
            "WorkerPodRestarting fires.",
            unit="short",
            datasource=PROMETHEUS_UID,
            thresholds=[(RESTARTS_TOLERATED + 1, "red")],
            targets=[
                _promql(
                    "A",
                    "sum by (pod) (increase(kube_pod_container_status_restarts_total"
                    f"{{{pods}}}[15m]))",
                    "{{pod}}",
                ),
            ],
        ),
        PanelSpec(
            title="Pods not ready",
            description="Workload pods failing their readiness probe, which get no traffic.",
            unit="short",
            datasource=PROMETHEUS_UID,
            thresholds=[(1, "red")],
            targets=[
                _promql(
                    "A", f'sum(kube_pod_status_ready{{{pods},condition="false"}})', "not ready"
                ),
            ],
        ),
        PanelSpec(
            title="Memory of limit",
            description="Working set of each pod against its memory limit; at 100 % the kernel "
            "kills it (OOMKilled).",
            unit="percentunit",
            datasource=PROMETHEUS_UID,
            thresholds=[(0.8, "yellow"), (0.95, "red")],
            targets=[
                _promql(
                    "A",
                    f"sum by (pod) (container_memory_working_set_bytes{{{pods},"
                    'container!=""}) / sum by (pod) (kube_pod_container_resource_limits'
                    f'{{{pods},resource="memory"}})',
                    "{{pod}}",
                ),
            ],
        ),
    ]


def _node_panels() -> list[PanelSpec]:
    busy = [(0.8, "yellow"), (0.9, "red")]
    return [
        PanelSpec(
            title="Node CPU utilization",
            description="Share of each node's CPU time not idle.",
            unit="percentunit",
            datasource=PROMETHEUS_UID,
            thresholds=busy,
            targets=[
                _promql(
                    "A",
                    '1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m]))',
                    "{{instance}}",
                ),
            ],
        ),
        PanelSpec(
            title="Node memory utilization",
            description="Share of each node's memory not available to new allocations.",
            unit="percentunit",
            datasource=PROMETHEUS_UID,
            thresholds=busy,
            targets=[
                _promql(
                    "A",
                    "1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes",
                    "{{instance}}",
                ),
            ],
        ),
        PanelSpec(
            title="Karpenter nodes",
            description="Nodes Karpenter launched, by node pool; the system node group is not "
            "counted.",
            unit="short",
            datasource=PROMETHEUS_UID,
            targets=[
                _promql(
                    "A",
                    "count by (label_karpenter_sh_nodepool) "
                    '(kube_node_labels{label_karpenter_sh_nodepool!=""})',
                    "{{label_karpenter_sh_nodepool}}",
                ),
            ],
        ),
    ]


def _cost_panels(s: DashboardSources) -> list[PanelSpec]:
    budget = float(s.monthly_budget_usd)
    # Billing metrics arrive every few hours, and only with billing alerts enabled on the account.
    charges = _metric(
        "A",
        GLOBAL_REGION,
        "AWS/Billing",
        "EstimatedCharges",
        {"Currency": "USD"},
        stat="Maximum",
        label="estimated",
        period=21600,
    )
    return [
        PanelSpec(
            title="Estimated charges vs budget",
            description="Month-to-date estimated charges of the account; red is the monthly "
            "budget.",
            unit="currencyUSD",
            datasource=CLOUDWATCH_UID,
            thresholds=[(0.8 * budget, "yellow"), (budget, "red")],
            targets=[charges],
        ),
        PanelSpec(
            title="Budget used",
            description="Month-to-date estimated charges as a share of the monthly budget.",
            unit="percent",
            kind="stat",
            datasource=CLOUDWATCH_UID,
            thresholds=[(80, "yellow"), (100, "red")],
            targets=[
                _metric(
                    "A",
                    GLOBAL_REGION,
                    "AWS/Billing",
                    "EstimatedCharges",
                    {"Currency": "USD"},
                    stat="Maximum",
                    label="charges",
                    period=21600,
                ).hide(True),
                _math("B", f"100 * a / {s.monthly_budget_usd}", "budget used"),
            ],
        ),
    ]
