"""Helm charts from reviewed sources at reviewed versions, with their values in sight."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest

from tests.policies.builders import resource
from tests.policies.expect import explain, policies
from tools.analyzer import PolicyPack, PolicyPackError
from tools.offline import run_callable

POLICY = "helm-chart-reviewed"
V3_RELEASE = "kubernetes:helm.sh/v3:Release"
V4_CHART = "kubernetes:helm.sh/v4:Chart"
KEDA = {
    "chart": "keda",
    "version": "2.17.2",
    "repositoryOpts": {"repo": "https://kedacore.github.io/charts/"},
}
KARPENTER = {"chart": "oci://public.ecr.aws/karpenter/karpenter", "version": "1.14.1"}
REVIEWED = {
    "https://kedacore.github.io/charts/keda": ["2.17.2"],
    "oci://public.ecr.aws/karpenter/karpenter": ["1.14.0", "1.14.1"],
}


@pytest.fixture
def pack(pack: PolicyPack) -> PolicyPack:
    pack.configure({POLICY: {"reviewedCharts": REVIEWED}})
    return pack


@pytest.mark.parametrize("token", [V3_RELEASE, V4_CHART])
@pytest.mark.parametrize("chart", [KEDA, KARPENTER], ids=["repository", "oci"])
def test_reviewed_chart_passes(pack: PolicyPack, token: str, chart: dict[str, Any]) -> None:
    record = resource(token, "release", {**chart, "values": {"replicas": 2}})

    found = pack.analyze(record)

    assert found == [], explain(record.urn, found)


@pytest.mark.parametrize(
    ("inputs", "said"),
    [
        pytest.param({**KEDA, "version": "2.18.0"}, "reviewed: 2.17.2", id="other-version"),
        pytest.param({k: v for k, v in KEDA.items() if k != "version"}, "unpinned", id="unpinned"),
        pytest.param({**KEDA, "version": ""}, "unpinned", id="empty-version"),
        pytest.param(
            {**KEDA, "repositoryOpts": {"repo": "https://mirror.example.org/charts"}},
            "no one has reviewed",
            id="other-repository",
        ),
        pytest.param(
            {**KEDA, "repositoryOpts": {"repo": "http://kedacore.github.io/charts"}},
            "local path or repository alias",
            id="plain-http",
        ),
        pytest.param({"chart": "./charts/keda", "version": "2.17.2"}, "local path", id="local"),
        pytest.param({"chart": "kedacore/keda", "version": "2.17.2"}, "alias", id="alias"),
        pytest.param(
            {**KARPENTER, "chart": "oci://mirror.example.org/karpenter"}, "no one", id="oci"
        ),
        pytest.param(
            {**KEDA, "valueYamlFiles": ["values/prod.yaml"]}, "values/prod.yaml", id="files"
        ),
        pytest.param({**KEDA, "postrender": "./kustomize.sh"}, "post-renderer", id="postrender"),
        pytest.param(
            {**KEDA, "postRenderer": {"command": "./kustomize.sh"}},
            "post-renderer",
            id="v4-post-renderer",
        ),
        pytest.param(
            {**KEDA, "values": {"extraObjects": [{"apiVersion": "v1", "kind": "Service"}]}},
            "values.extraObjects[0]",
            id="embedded-object",
        ),
        pytest.param(
            {
                **KEDA,
                "values": {"extraManifests": ["apiVersion: networking.k8s.io/v1\nkind: Ingress"]},
            },
            "values.extraManifests[0]",
            id="embedded-yaml-text",
        ),
    ],
)
def test_unreviewed_chart_is_blocked(pack: PolicyPack, inputs: dict[str, Any], said: str) -> None:
    record = resource(V3_RELEASE, "keda", inputs)

    found = pack.analyze(record)

    assert policies(found) == [POLICY], explain(record.urn, found)
    assert said in found[0].message


def test_nothing_is_reviewed_by_default(pack: PolicyPack) -> None:
    pack.configure({})
    record = resource(V3_RELEASE, "keda", KEDA)

    found = pack.analyze(record)

    assert policies(found) == [POLICY], explain(record.urn, found)


@pytest.mark.parametrize(
    "reviewed",
    [
        pytest.param({"https://kedacore.github.io/charts/keda": []}, id="no-versions"),
        pytest.param({"https://kedacore.github.io/charts/keda": ["latest"]}, id="moving-version"),
        pytest.param({"kedacore/keda": ["2.17.2"]}, id="alias"),
        pytest.param({"https://kedacore.github.io/charts/keda/": ["2.17.2"]}, id="trailing-slash"),
    ],
)
def test_review_list_must_name_sources_and_versions(
    pack: PolicyPack, reviewed: dict[str, Any]
) -> None:
    with pytest.raises(PolicyPackError, match=POLICY):
        pack.configure({POLICY: {"reviewedCharts": reviewed}})


def test_v3_chart_component_is_left_to_the_object_policies(pack: PolicyPack) -> None:
    # Rendered in the program: each object is registered, and judged, as a resource of its own.
    record = resource("kubernetes:helm.sh/v3:Chart", "legacy", {}, custom=False)

    found = pack.analyze(record)

    assert found == [], explain(record.urn, found)


def _release_with_value_files() -> None:
    repository: k8s.helm.v3.RepositoryOptsArgsDict = {"repo": "https://kedacore.github.io/charts"}
    k8s.helm.v3.Release(
        "keda",
        chart="keda",
        version="2.17.2",
        namespace="keda",
        repository_opts=repository,
        value_yaml_files=[pulumi.StringAsset("service:\n  type: LoadBalancer\n")],
    )
    k8s.helm.v4.Chart(
        "keda4",
        chart="keda",
        version="2.17.2",
        namespace="keda",
        repository_opts={"repo": "https://kedacore.github.io/charts"},
        value_yaml_files=[pulumi.FileAsset("values/extra.yaml")],
    )


def test_value_files_given_as_assets_are_blocked(pack: PolicyPack) -> None:
    # Assets reach the pack as asset objects, not path strings, through the real SDK.
    run = run_callable(_release_with_value_files, "staging")

    found = [v for v in pack.check(run.resources) if v.policy == POLICY]

    assert sorted(v.urn.rsplit("::", 1)[-1] for v in found) == ["keda", "keda4"], found
    assert all("an asset" in v.message for v in found), found
