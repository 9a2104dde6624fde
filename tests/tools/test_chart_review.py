"""The chart review: a `helm template` render judged by the real pack, as a plan would be."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.chart_review import EXIT_ERROR, EXIT_OK, EXIT_VIOLATIONS, main

CONFIG_MAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: b}\n"
LB_SERVICE = (
    "apiVersion: v1\nkind: Service\nmetadata: {name: grafana, namespace: monitoring}\n"
    "spec: {type: LoadBalancer, ports: [{port: 80}]}\n"
)
PLAIN_GP2 = (
    "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: gp2}\n"
    "provisioner: kubernetes.io/aws-ebs\n"
)


def _review(tmp_path: Path, render: str) -> int:
    path = tmp_path / "render.yaml"
    path.write_text(render)
    return main(["check", "--stack", "prod", str(path)])


def test_clean_render_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = _review(tmp_path, CONFIG_MAP)

    out = capsys.readouterr().out
    assert code == EXIT_OK, out
    assert "1 Kubernetes object(s) judged: 0 mandatory, 0 other finding(s)" in out


def test_render_making_a_load_balancer_or_plain_disk_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _review(tmp_path, "---\n".join([CONFIG_MAP, LB_SERVICE, PLAIN_GP2]))

    out = capsys.readouterr().out
    assert code == EXIT_VIOLATIONS, out
    assert "k8s-no-loadbalancer-service" in out
    assert "ebs-encrypted" in out
    assert "3 Kubernetes object(s) judged: 2 mandatory" in out


@pytest.mark.parametrize("render", ["", "kind: [Service\n"], ids=["empty", "not-yaml"])
def test_unusable_render_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], render: str
) -> None:
    code = _review(tmp_path, render)

    assert code == EXIT_ERROR
    assert "error:" in capsys.readouterr().err


# What `values` prints, given to `check` in place of the render it is for.
KEDA_VALUES = (
    "# values of matching-keda (keda 2.17.2)\nprometheus:\n  operator:\n    enabled: true\n"
    "    port: 8080\n"
)


@pytest.mark.parametrize(
    ("render", "message"),
    [
        pytest.param(KEDA_VALUES, "document 1 (keys prometheus)", id="values-file"),
        pytest.param(
            CONFIG_MAP + "---\nreplicas: 2\n", "document 2 (keys replicas)", id="one-stray"
        ),
        pytest.param(
            "just text\n---\n- a\n", "document 1 (a str), document 2 (a list)", id="scalars"
        ),
        pytest.param(
            "kind: Service\nmetadata: {name: a}\n",
            "document 1 (keys kind, metadata)",
            id="no-api-version",
        ),
        pytest.param(
            "apiVersion: v1\nkind: ''\n", "document 1 (keys apiVersion, kind)", id="empty-kind"
        ),
        pytest.param(
            "---\n# nothing rendered\n---\n", "holds no Kubernetes object", id="comments-only"
        ),
    ],
)
def test_render_of_anything_but_kubernetes_objects_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], render: str, message: str
) -> None:
    code = _review(tmp_path, render)

    captured = capsys.readouterr()
    assert code == EXIT_ERROR, captured.out
    assert message in captured.err
    assert "`helm template`" in captured.err
    assert captured.out == "", "nothing may be judged from such an input"


def test_values_are_the_programs(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["values", "--stack", "prod", "--release", "keda"])

    out = capsys.readouterr().out
    assert code == EXIT_OK
    assert out.startswith("# values of matching-keda (keda 2.17.2)")
    assert "operator:" in out


def test_values_of_an_unknown_release_name_the_releases(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["values", "--stack", "prod", "--release", "nginx"])

    assert code == EXIT_ERROR
    assert "matching-karpenter" in capsys.readouterr().err
