"""Every Helm chart comes from a reviewed source at a reviewed version, with values in sight.

A release renders its objects inside the Kubernetes provider, after the pack has judged the
program: a chart whose defaults make a LoadBalancer Service, an Ingress or an unlabelled
namespace passes every object policy unseen. The pack cannot render charts, so a person does, once
per chart version (`python -m tools.chart_review`, see the runbook), and the pack holds every
release to the sources and versions in its config. Values read from files (paths or assets),
post-renderers, and Kubernetes objects embedded in the values (the `extraManifests` or
`extraObjects` most charts offer, as maps or as YAML text) change the render after that review
and out of the pack's sight, so none is allowed: such objects are declared as resources instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

from matching_policy._props import get, items, texts

# The kinds whose objects the Kubernetes provider renders out of the pack's sight. A v3 Chart
# renders in the program instead and registers each object as its own resource, which the
# object policies judge; the component itself carries no chart, version or values.
PROVIDER_RENDERED = frozenset({"kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart"})

CHART_EXAMPLE = """\
k8s.helm.v3.Release("tools", chart="ingress-nginx", repository_opts={"repo": "https://..."})
"""


def chart_source(props: object) -> str | None:
    """Where a chart comes from, one spelling per chart: an OCI reference as given, or the
    repository's address and the chart's name; None for a local path or a repository alias."""
    chart = get(props, "chart")
    if not isinstance(chart, str) or not chart:
        return None
    if chart.startswith("oci://"):
        return chart.rstrip("/")
    repository = get(props, "repositoryOpts", "repo")
    if not isinstance(repository, str) or not repository.startswith(("https://", "oci://")):
        return None
    return f"{repository.rstrip('/')}/{chart}"


def _reviewed(config: Mapping[str, Any]) -> dict[str, list[str]]:
    found = config.get("reviewedCharts")
    if not isinstance(found, Mapping):
        return {}
    return {source: texts(versions) for source, versions in cast(Mapping[str, Any], found).items()}


def _source_problems(props: object, reviewed: dict[str, list[str]]) -> list[str]:
    chart = get(props, "chart")
    source = chart_source(props)
    if source is None:
        return [
            f"takes chart {chart!r} from a local path or repository alias, not a reviewed source"
        ]
    if source not in reviewed:
        return [f"takes chart {source}, which no one has reviewed"]

    version = get(props, "version")
    if not isinstance(version, str) or not version:
        return [f"takes {source} unpinned: the newest version is whatever it renders"]
    if version not in reviewed[source]:
        allowed = ", ".join(reviewed[source]) or "none"
        return [f"takes {source} at {version}; reviewed: {allowed}"]
    return []


def embedded_objects(values: object, path: str) -> list[str]:
    """Paths in a chart's values that hold a Kubernetes object: a map with `apiVersion` and
    `kind`, or text that names both (YAML a chart passes through `tpl` or `toYaml`)."""
    if isinstance(values, str):
        return [path] if "apiVersion" in values and "kind" in values else []
    if isinstance(values, Mapping):
        mapping = cast(Mapping[str, Any], values)
        if "apiVersion" in mapping and "kind" in mapping:
            return [path]
        return [
            p for key, value in mapping.items() for p in embedded_objects(value, f"{path}.{key}")
        ]
    listed = enumerate(items(values))
    return [p for index, value in listed for p in embedded_objects(value, f"{path}[{index}]")]


def _check_chart(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in PROVIDER_RENDERED:
        return

    problems = _source_problems(args.props, _reviewed(args.get_config()))
    files = items(get(args.props, "valueYamlFiles"))
    if files:
        named = ", ".join(f if isinstance(f, str) else "an asset" for f in files)
        problems.append(f"reads values from {named}, which the pack can't see")
    # v3 Releases name the binary `postrender`; v4 Charts take a `postRenderer` object.
    if any(get(args.props, key) for key in ("postrender", "postRenderer")):
        problems.append("runs a post-renderer, which changes the objects after review")
    problems += [
        f"embeds a Kubernetes object in its values at {path}, which the chart renders unjudged"
        for path in embedded_objects(get(args.props, "values"), "values")
    ]

    for problem in problems:
        report(f"release '{args.name}' ({args.urn}) {problem}", None)


HELM_CHART_REVIEWED = ResourceValidationPolicy(
    name="helm-chart-reviewed",
    description="Every Helm release takes a chart from a reviewed source at a reviewed, pinned "
    "version, with its values inline and no post-renderer, because the pack never sees what "
    "a chart renders.",
    validate=_check_chart,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    config_schema=PolicyConfigSchema(
        properties={
            "reviewedCharts": {
                "description": "Chart sources (an oci:// reference, or the repository's "
                "https:// address and the chart's name) and the versions whose render was "
                "reviewed with tools.chart_review.",
                "type": "object",
                "default": {},
                "propertyNames": {"pattern": "^(https|oci)://[^\\s]+[^/]$"},
                "additionalProperties": {
                    "type": "array",
                    "minItems": 1,
                    "uniqueItems": True,
                    "items": {"type": "string", "pattern": "^v?[0-9]+\\.[0-9]+\\.[0-9]+\\S*$"},
                },
            }
        }
    ),
    remediation_steps="Render the chart at the new version with the program's values, run "
    "`python -m tools.chart_review` on the render, then add the version to reviewedCharts.",
)

POLICIES = [HELM_CHART_REVIEWED]
