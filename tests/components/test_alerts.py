"""The alert catalogue: rules that promtool accepts and that fire exactly where they should."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

from components import alerts
from components.alerts import ALERTS, PROMETHEUS_ALERTS, github_anchor
from components.settings import RUNBOOK_URL_MAX_LENGTH, ObservabilitySettings
from tests.components.exported_metrics import PROMETHEUS_METRICS, metric_names
from tools.offline import ROOT

PROMTOOL_TESTS = Path(__file__).parent / "promtool" / "alerts-test.yaml"
RUNBOOK = ROOT / "docs" / "runbook.md"
# Not a stack's runbookUrl: the promtool tests expect their annotations to link here.
RUNBOOK_URL = "https://runbooks.example.eu/matching-platform/runbook.md"
# The longest runbookUrl the settings accept.
LONGEST_RUNBOOK_URL = "https://runbooks.example.eu/" + "r" * (RUNBOOK_URL_MAX_LENGTH - 28)
# The oddest one, as long: every character the settings allow in a path, escapes among them.
_ODD_PATH = "/-._~!$&'()*+,;=:@/%41%7e%25/runbook.md"
ODDEST_RUNBOOK_URL = (
    "https://runbooks.example.eu/"
    + "r" * (RUNBOOK_URL_MAX_LENGTH - 28 - len(_ODD_PATH))
    + _ODD_PATH
)


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool not found: install Debian's prometheus package (apt-get install prometheus)"
        )
    return path


@pytest.fixture
def rule_dir(tmp_path: Path) -> Path:
    """The generated rule file beside the unit tests that name it, as promtool expects."""
    (tmp_path / "rules.yaml").write_text(alerts.rule_file(alerts.rule_groups(RUNBOOK_URL)))
    shutil.copy(PROMTOOL_TESTS, tmp_path / PROMTOOL_TESTS.name)
    return tmp_path


def run(promtool: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def test_promtool_accepts_the_generated_rules(promtool: str, rule_dir: Path) -> None:
    result = run(promtool, "check", "rules", "rules.yaml", cwd=rule_dir)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(PROMETHEUS_ALERTS)} rules found" in result.stdout


def test_each_prometheus_alert_fires_past_its_boundary_only(promtool: str, rule_dir: Path) -> None:
    result = run(promtool, "test", "rules", PROMTOOL_TESTS.name, cwd=rule_dir)

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def odd_rule_dir(tmp_path: Path) -> Path:
    """The rule file and its unit tests, both with the oddest runbookUrl the settings accept."""
    (tmp_path / "rules.yaml").write_text(alerts.rule_file(alerts.rule_groups(ODDEST_RUNBOOK_URL)))
    unit_tests = _replace_text(yaml.safe_load(PROMTOOL_TESTS.read_text()))
    (tmp_path / PROMTOOL_TESTS.name).write_text(yaml.safe_dump(unit_tests, sort_keys=False))
    return tmp_path


def _replace_text(value: Any) -> Any:
    """`value` with RUNBOOK_URL replaced by the oddest URL in every string it holds."""
    if isinstance(value, dict):
        return {key: _replace_text(item) for key, item in cast(dict[str, Any], value).items()}
    if isinstance(value, list):
        return [_replace_text(item) for item in cast(list[Any], value)]
    if isinstance(value, str):
        return value.replace(RUNBOOK_URL, ODDEST_RUNBOOK_URL)
    return value


def test_the_oddest_runbook_url_the_settings_accept_comes_out_of_promtool_intact(
    promtool: str, odd_rule_dir: Path
) -> None:
    settings = {"alertEmail": "a@b.eu", "runbookUrl": ODDEST_RUNBOOK_URL, "monthlyBudgetUsd": 1}
    ObservabilitySettings.model_validate_json(json.dumps(settings), strict=True)
    assert len(ODDEST_RUNBOOK_URL) == RUNBOOK_URL_MAX_LENGTH

    checked = run(promtool, "check", "rules", "rules.yaml", cwd=odd_rule_dir)
    tested = run(promtool, "test", "rules", PROMTOOL_TESTS.name, cwd=odd_rule_dir)

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(PROMETHEUS_ALERTS)} rules found" in checked.stdout
    # The unit tests compare the expanded runbook_url: a character read as a template fails them.
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_prometheus_alert_has_a_promtool_test() -> None:
    tested = set(re.findall(r"alertname: (\w+)", PROMTOOL_TESTS.read_text()))

    assert tested == {alert.name for alert in PROMETHEUS_ALERTS}


def test_the_catalogue_holds_the_eight_agreed_alerts() -> None:
    names = [alert.name for alert in ALERTS]

    assert len(names) == 8
    assert len(set(names)) == 8, "an alert name is used twice"


@pytest.mark.parametrize("alert", ALERTS, ids=lambda a: a.name)
def test_alert_says_how_bad_what_and_where_to_read(alert: alerts.Alert) -> None:
    assert alert.severity in {"critical", "warning"}, alert.name
    assert alert.summary.endswith("."), alert.name
    assert alert.description.endswith("."), alert.name
    assert alert.runbook_link(RUNBOOK_URL) == f"{RUNBOOK_URL}#{alert.anchor}", alert.name


@pytest.mark.parametrize("alert", ALERTS, ids=lambda a: a.name)
def test_alarm_description_fits_cloudwatch_with_the_longest_runbook_url(
    alert: alerts.Alert,
) -> None:
    description = alert.alarm_description(LONGEST_RUNBOOK_URL)

    assert len(LONGEST_RUNBOOK_URL) == RUNBOOK_URL_MAX_LENGTH
    assert description.endswith(f"Runbook: {LONGEST_RUNBOOK_URL}#{alert.anchor}"), alert.name
    assert len(description) <= 1024, f"{alert.name}: above CloudWatch's 1,024 characters"


def runbook_anchors() -> set[str]:
    headings = re.findall(r"^#{1,6} (.+)$", RUNBOOK.read_text(), flags=re.MULTILINE)
    return {github_anchor(heading) for heading in headings}


@pytest.mark.parametrize("alert", ALERTS, ids=lambda a: a.name)
def test_runbook_has_the_section_the_alert_links_to(alert: alerts.Alert) -> None:
    fragment = alert.runbook_link(RUNBOOK_URL).split("#", 1)[1]

    assert fragment in runbook_anchors(), f"{alert.name}: no heading for #{fragment} in {RUNBOOK}"


def test_runbook_sections_stand_under_the_alerts_heading() -> None:
    text = RUNBOOK.read_text()
    section = text.split("\n## Alerts\n", 1)[1].split("\n## ", 1)[0]

    for alert in ALERTS:
        assert f"\n### {alert.name}\n" in section, f"{alert.name} is not under ## Alerts"


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [("Alerts", "alerts"), ("Node pressure: what to do", "node-pressure-what-to-do")],
)
def test_anchor_follows_githubs_slug(heading: str, anchor: str) -> None:
    assert github_anchor(heading) == anchor


@pytest.mark.parametrize("alert", PROMETHEUS_ALERTS, ids=lambda a: a.name)
def test_rule_parses_and_reads_only_exported_metrics(alert: alerts.PrometheusAlert) -> None:
    used = metric_names(alert.expr)

    assert used, f"{alert.name} selects no metric"
    assert used <= PROMETHEUS_METRICS, (
        f"{alert.name} reads unknown metrics {used - PROMETHEUS_METRICS}"
    )


def test_rule_file_is_the_prometheus_rule_spec() -> None:
    groups = alerts.rule_groups(RUNBOOK_URL)

    assert yaml.safe_load(alerts.rule_file(groups)) == {"groups": groups}


@pytest.mark.parametrize("alert", PROMETHEUS_ALERTS, ids=lambda a: a.name)
def test_rule_links_its_runbook_section_at_the_given_url(alert: alerts.PrometheusAlert) -> None:
    annotations = alert.rule(RUNBOOK_URL)["annotations"]

    assert annotations["runbook_url"] == f"{RUNBOOK_URL}#{alert.anchor}", alert.name
