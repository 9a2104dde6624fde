"""The dashboard: 18 described panels on a tidy grid, querying metrics that really exist."""

from __future__ import annotations

from typing import Any, cast

import pytest

from components.dashboard import (
    CLOUDWATCH_UID,
    GRID_COLUMNS,
    PROMETHEUS_UID,
    DashboardSources,
    dashboard_model,
)
from tests.components.exported_metrics import CLOUDWATCH_METRICS, PROMETHEUS_METRICS, metric_names

SOURCES = DashboardSources(
    region="eu-central-1",
    queue_name="matching-queue-1a2b3c",
    dead_letter_queue_name="matching-dead-letters-4d5e6f",
    load_balancer="app/matching-alb/0123456789abcdef",
    distribution_id="E2ABCDEF123456",
    monthly_budget_usd=1500,
    queue_depth_alarm=500,
    oldest_message_sla_seconds=900,
)
ROWS = ["Edge and API", "Queue", "Workers and KEDA", "Pods", "Nodes", "Cost"]

Panel = dict[str, Any]


@pytest.fixture(scope="module")
def model() -> dict[str, Any]:
    return cast(dict[str, Any], dashboard_model(SOURCES))


def all_panels(model: dict[str, Any]) -> list[Panel]:
    return cast(list[Panel], model["panels"])


def panels(model: dict[str, Any]) -> list[Panel]:
    return [p for p in all_panels(model) if p["type"] != "row"]


def targets(model: dict[str, Any], datasource: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (p["title"], t)
        for p in panels(model)
        if p["datasource"]["uid"] == datasource
        for t in p["targets"]
    ]


def test_eighteen_panels_under_six_rows(model: dict[str, Any]) -> None:
    rows = [p["title"] for p in all_panels(model) if p["type"] == "row"]

    assert len(panels(model)) == 18
    assert rows == ROWS


def test_ids_are_unique(model: dict[str, Any]) -> None:
    ids = [p["id"] for p in all_panels(model)]

    assert len(ids) == len(set(ids)), f"duplicate panel ids in {ids}"


def test_panels_fit_the_grid_without_overlapping(model: dict[str, Any]) -> None:
    taken: dict[tuple[int, int], str] = {}
    for panel in all_panels(model):
        pos = panel["gridPos"]
        assert pos["x"] >= 0, panel["title"]
        assert min(pos["w"], pos["h"]) > 0, panel["title"]
        assert pos["x"] + pos["w"] <= GRID_COLUMNS, f"{panel['title']} overflows the grid"
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in taken, f"{panel['title']} overlaps {taken[(x, y)]}"
                taken[(x, y)] = panel["title"]


def test_every_panel_has_unit_description_and_a_query(model: dict[str, Any]) -> None:
    for panel in panels(model):
        assert panel["fieldConfig"]["defaults"].get("unit"), f"{panel['title']} has no unit"
        assert panel.get("description"), f"{panel['title']} has no description"
        assert panel["targets"], f"{panel['title']} queries nothing"
        assert panel["datasource"]["uid"] in {PROMETHEUS_UID, CLOUDWATCH_UID}, panel["title"]


@pytest.mark.parametrize(
    ("title", "red"),
    [
        ("5xx error rate", 5),
        ("Queue depth", 500),
        ("Age of oldest message", 900),
        ("Dead-letter queue", 1),
        ("Estimated charges vs budget", 1500),
    ],
)
def test_thresholds_draw_the_alert_lines(model: dict[str, Any], title: str, red: float) -> None:
    (panel,) = [p for p in panels(model) if p["title"] == title]
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]

    assert {"color": "red", "value": red} in steps, f"{title}: {steps}"


def test_promql_parses_and_reads_only_exported_metrics(model: dict[str, Any]) -> None:
    queries = targets(model, PROMETHEUS_UID)

    assert len(queries) >= 10
    for title, target in queries:
        used = metric_names(target["expr"])
        assert used, f"{title}: {target['expr']} selects no metric"
        assert used <= PROMETHEUS_METRICS, f"{title}: unknown metrics {used - PROMETHEUS_METRICS}"


def test_cloudwatch_queries_name_published_metrics(model: dict[str, Any]) -> None:
    queries = targets(model, CLOUDWATCH_UID)

    assert len(queries) >= 10
    for title, target in queries:
        if target.get("expression"):
            continue
        known = CLOUDWATCH_METRICS.get(target["namespace"], frozenset[str]())
        assert target["metricName"] in known, (
            f"{title}: {target['namespace']} {target['metricName']}"
        )
        assert target["region"], f"{title}: CloudWatch queries must name their region"


def test_cloudfront_waf_and_billing_are_read_in_us_east_1(model: dict[str, Any]) -> None:
    for title, target in targets(model, CLOUDWATCH_UID):
        if target.get("namespace") in {"AWS/CloudFront", "AWS/WAFV2", "AWS/Billing"}:
            assert target["region"] == "us-east-1", title


def test_queue_panels_watch_this_stacks_queues(model: dict[str, Any]) -> None:
    queues = {
        t["dimensions"]["QueueName"]
        for _, t in targets(model, CLOUDWATCH_UID)
        if t.get("namespace") == "AWS/SQS"
    }

    assert queues == {SOURCES.queue_name, SOURCES.dead_letter_queue_name}
