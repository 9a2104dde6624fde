"""The metrics the platform's exporters really publish, so a typo in a query fails a test.

Kept by hand from each exporter's documentation and source at the versions the charts pin
(kube-prometheus-stack 79.7.1 with kube-state-metrics 2.17, node-exporter 1.10; KEDA 2.17), and
from the CloudWatch metric references of each AWS service. Add a name only after checking it.
"""

from __future__ import annotations

import promql_parser

KUBE_STATE_METRICS = frozenset(
    {
        "kube_pod_container_status_restarts_total",
        "kube_pod_container_resource_limits",
        "kube_pod_container_resource_requests",
        "kube_pod_status_ready",
        "kube_pod_status_phase",
        "kube_node_status_condition",
        "kube_node_labels",
        "kube_node_info",
        "kube_deployment_spec_replicas",
        "kube_deployment_status_replicas_available",
        "kube_horizontalpodautoscaler_status_desired_replicas",
        "kube_horizontalpodautoscaler_status_current_replicas",
        "kube_horizontalpodautoscaler_spec_max_replicas",
        "kube_horizontalpodautoscaler_spec_min_replicas",
    }
)
# pkg/metricscollector/prommetrics.go; `keda_scaler_errors_total` was renamed in 2.16.
KEDA = frozenset(
    {
        "keda_build_info",
        "keda_scaler_metrics_value",
        "keda_scaler_metrics_latency_seconds",
        "keda_scaler_active",
        "keda_scaler_detail_errors_total",
        "keda_scaled_object_errors_total",
        "keda_scaled_object_paused",
        "keda_internal_scale_loop_latency_seconds",
    }
)
NODE_EXPORTER = frozenset(
    {
        "node_cpu_seconds_total",
        "node_memory_MemAvailable_bytes",
        "node_memory_MemTotal_bytes",
        "node_filesystem_avail_bytes",
        "node_filesystem_size_bytes",
        "node_load1",
    }
)
# The kubelet's cAdvisor endpoint, which the chart scrapes through its kubelet ServiceMonitor.
CADVISOR = frozenset(
    {
        "container_memory_working_set_bytes",
        "container_cpu_usage_seconds_total",
        "container_cpu_cfs_throttled_periods_total",
        "container_oom_events_total",
    }
)
PROMETHEUS_METRICS = KUBE_STATE_METRICS | KEDA | NODE_EXPORTER | CADVISOR

# CloudWatch, by namespace: the metrics each service publishes without extra subscriptions
# (CloudFront's OriginLatency and percentiles need "additional metrics", so none are used).
CLOUDWATCH_METRICS: dict[str, frozenset[str]] = {
    "AWS/SQS": frozenset(
        {
            "ApproximateNumberOfMessagesVisible",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateAgeOfOldestMessage",
            "NumberOfMessagesSent",
            "NumberOfMessagesDeleted",
        }
    ),
    "AWS/ApplicationELB": frozenset(
        {
            "RequestCount",
            "TargetResponseTime",
            "HTTPCode_Target_5XX_Count",
            "HTTPCode_ELB_5XX_Count",
            "HealthyHostCount",
            "UnHealthyHostCount",
        }
    ),
    "AWS/CloudFront": frozenset({"Requests", "5xxErrorRate", "4xxErrorRate", "TotalErrorRate"}),
    "AWS/WAFV2": frozenset({"AllowedRequests", "BlockedRequests", "CountedRequests"}),
    "AWS/CertificateManager": frozenset({"DaysToExpiry"}),
    "AWS/Billing": frozenset({"EstimatedCharges"}),
}


def metric_names(expr: str) -> set[str]:
    """Every metric an expression selects, read from its syntax tree (raises if it won't parse)."""
    names: set[str] = set()

    def visit(node: promql_parser.Expr) -> bool:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)
        return True

    promql_parser.walk(promql_parser.parse(expr), pre_visit=visit)
    return names
