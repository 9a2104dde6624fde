"""KEDA on SQS: the scale-down window, and visibility above the workers' grace period."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.policies.builders import DEFAULT_PROVIDER, UNKNOWN, changed, resource
from tests.policies.conftest import Judge
from tests.policies.expect import explain, policies
from tools.analyzer import PolicyPack
from tools.records import ResourceRecord, Violation

SCALING = ("keda-scale-down-window", "sqs-visibility-above-grace")
URL = "https://sqs.eu-central-1.amazonaws.com/111122223333/jobs"
QUEUE = resource(
    "aws:sqs/queue:Queue",
    "jobs",
    {"visibilityTimeoutSeconds": 150},
    cloud_id=URL,
    computed={"url": URL},
)
NAMESPACE = {"namespace": "matching", "name": "worker"}
WORKER = resource(
    "kubernetes:apps/v1:Deployment",
    "worker",
    {"metadata": NAMESPACE, "spec": {"template": {"spec": {"terminationGracePeriodSeconds": 90}}}},
)
SPEC: dict[str, Any] = {
    "minReplicaCount": 1,
    "scaleTargetRef": {"name": "worker"},
    "triggers": [{"type": "aws-sqs-queue", "metadata": {"queueURL": URL, "queueLength": "1"}}],
    "advanced": {
        "horizontalPodAutoscalerConfig": {
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 3600}}
        }
    },
}


def _scaler(spec: dict[str, Any] = SPEC, *, linked: bool = False) -> ResourceRecord:
    props = {"metadata": NAMESPACE, "spec": spec}
    links = {"spec": [WORKER, QUEUE]} if linked else {}
    return resource("kubernetes:keda.sh/v1alpha1:ScaledObject", "scaler", props, links=links)


def _spec(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(SPEC), **changes}


def _mine(found: list[Violation], enforcement: str = "mandatory") -> list[str]:
    """Only this module's policies: the bare queue and workload here break others on purpose."""
    return [p for p in policies(found, enforcement) if p in SCALING]


def _stack(*records: ResourceRecord) -> list[ResourceRecord]:
    return [DEFAULT_PROVIDER, *records]


def test_compliant_scaling_passes(judge: Judge) -> None:
    found = judge(_stack(QUEUE, WORKER, _scaler()))

    assert _mine(found) == [], explain("scaler", found)


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param(_spec(advanced={}), id="no-behaviour"),
        pytest.param(
            _spec(
                advanced={
                    "horizontalPodAutoscalerConfig": {
                        "behavior": {"scaleDown": {"stabilizationWindowSeconds": 7200}}
                    }
                }
            ),
            id="window-too-long",
        ),
    ],
)
def test_scale_down_window_is_required(pack: PolicyPack, spec: dict[str, Any]) -> None:
    scaler = _scaler(spec)

    found = pack.analyze(scaler, DEFAULT_PROVIDER)

    assert policies(found) == ["keda-scale-down-window"], explain(scaler.urn, found)


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param(_spec(advanced={}, minReplicaCount=0), id="scales-to-zero"),
        pytest.param(
            {k: v for k, v in SPEC.items() if k not in ("advanced", "minReplicaCount")},
            id="min-absent",
        ),
        pytest.param(_spec(advanced={}, triggers=[{"type": "cpu"}]), id="not-sqs"),
    ],
)
def test_scale_down_window_not_needed(pack: PolicyPack, spec: dict[str, Any]) -> None:
    scaler = _scaler(spec)

    found = pack.analyze(scaler, DEFAULT_PROVIDER)

    assert found == [], explain(scaler.urn, found)


@pytest.mark.parametrize(
    ("queue", "worker"),
    [
        pytest.param(changed(QUEUE, visibilityTimeoutSeconds=60), WORKER, id="shorter"),
        pytest.param(changed(QUEUE, visibilityTimeoutSeconds=90), WORKER, id="equal"),
        pytest.param(
            resource("aws:sqs/queue:Queue", "jobs", {}, cloud_id=URL, computed={"url": URL}),
            WORKER,
            id="sqs-default-30",
        ),
        pytest.param(
            QUEUE,
            changed(WORKER, spec={"template": {"spec": {"terminationGracePeriodSeconds": 600}}}),
            id="long-grace",
        ),
    ],
)
def test_visibility_not_above_grace_is_blocked(
    judge: Judge, queue: ResourceRecord, worker: ResourceRecord
) -> None:
    found = judge(_stack(queue, worker, _scaler()))

    assert _mine(found) == ["sqs-visibility-above-grace"], explain(queue.urn, found)
    assert [v.urn for v in found if v.policy in SCALING] == [queue.urn]


def test_queue_found_by_dependency_when_url_is_not_literal(judge: Judge) -> None:
    other_url = {"type": "aws-sqs-queue", "metadata": {"queueURL": "https://elsewhere/jobs"}}
    scaler = _scaler(_spec(triggers=[other_url]), linked=True)

    found = judge(_stack(changed(QUEUE, visibilityTimeoutSeconds=30), WORKER, scaler))

    assert _mine(found) == ["sqs-visibility-above-grace"], explain(scaler.urn, found)


@pytest.mark.parametrize(
    "records",
    [
        pytest.param([QUEUE], id="target-not-in-stack"),
        pytest.param([WORKER], id="queue-not-in-stack"),
    ],
)
def test_unresolvable_scaler_is_blocked(judge: Judge, records: list[ResourceRecord]) -> None:
    scaler = _scaler()

    found = judge(_stack(*records, scaler))

    assert _mine(found) == ["sqs-visibility-above-grace"], explain(scaler.urn, found)


def test_unknown_timeout_at_preview_is_advisory(preview_pack: PolicyPack) -> None:
    queue = changed(QUEUE, visibilityTimeoutSeconds=UNKNOWN)

    found = preview_pack.check(_stack(queue, WORKER, _scaler()))

    assert _mine(found) == [], explain(queue.urn, found)
    assert "sqs-visibility-above-grace" in _mine(found, "advisory"), explain(queue.urn, found)


def test_unknown_url_at_preview_waits_instead_of_blocking(preview_pack: PolicyPack) -> None:
    unknown = {"type": "aws-sqs-queue", "metadata": {"queueURL": UNKNOWN}}
    scaler = _scaler(_spec(triggers=[unknown]))
    second = resource("aws:sqs/queue:Queue", "dlq", {}, computed={"url": "https://dlq"})

    found = preview_pack.check(_stack(QUEUE, second, WORKER, scaler))

    assert _mine(found) == [], explain(scaler.urn, found)
    assert "sqs-visibility-above-grace" in _mine(found, "advisory"), explain(scaler.urn, found)
