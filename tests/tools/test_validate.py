"""Kubernetes objects and IAM documents, checked by the tools that own their formats."""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

import pytest

from tools.offline import ProgramRun
from tools.records import ResourceRecord
from tools.validate import (
    Document,
    check_iam,
    check_kubernetes,
    check_manifest,
    cluster_version,
    lint,
    manifests,
    schema_version,
)

TYPO = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sqs:GetQueueAtributes", "Resource": "*"}],
    }
)
KEY_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::222222222222:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
)


def _object(run: ProgramRun, kind: str) -> ResourceRecord:
    found = [r for r in manifests(run.resources)[0] if r.inputs["kind"] == kind]
    assert found, f"the plan declares no {kind}"
    return found[0]


def _with(record: ResourceRecord, path: str, value: Any) -> ResourceRecord:
    inputs = copy.deepcopy(record.inputs)
    *steps, last = path.split(".")
    target = inputs
    for step in steps:
        target = target[step]
    target[last] = value
    return dataclasses.replace(record, inputs=inputs)


@pytest.mark.parametrize("stack_name", ["staging", "prod"])
def test_stack_validates_clean(plans: dict[str, ProgramRun], stack_name: str) -> None:
    records = plans[stack_name].resources
    version = schema_version(cluster_version(stack_name))

    findings = check_kubernetes(records, version) + check_iam(records)

    unexplained = [f"{f.where}: {f.code} {f.detail}" for f in findings if not f.explained]
    assert unexplained == [], stack_name
    assert manifests(records)[0], "no Kubernetes object was checked"


def test_helm_releases_are_listed_not_checked(plans: dict[str, ProgramRun]) -> None:
    objects, skipped = manifests(plans["prod"].resources)

    assert any("helm.sh/v3:Release" in urn for urn in skipped), skipped
    assert not [r.urn for r in objects if "helm.sh" in r.type]


def test_schema_version_is_the_nearest_shipped_not_newer() -> None:
    assert schema_version("1.33") == "1.33"
    assert schema_version("1.99") != "1.99"


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        pytest.param("spec.replicas", "two", "replicas", id="replicas-as-text"),
        pytest.param("spec.replika", 2, "replika", id="unknown-field"),
    ],
)
def test_broken_deployment_is_rejected(
    plans: dict[str, ProgramRun], path: str, value: Any, expected: str
) -> None:
    deployment = _with(_object(plans["prod"], "Deployment"), path, value)

    findings = check_manifest(deployment, "1.33")

    assert findings, f"{path}={value!r} passed"
    assert expected in findings[0].detail, findings


@pytest.mark.parametrize(
    ("path", "value"),
    [
        pytest.param("spec.minReplicaCount", "one", id="count-as-text"),
        pytest.param("spec.pollingIntervall", 15, id="unknown-field"),
    ],
)
def test_broken_scaled_object_is_rejected(
    plans: dict[str, ProgramRun], path: str, value: Any
) -> None:
    scaler = _with(_object(plans["prod"], "ScaledObject"), path, value)

    findings = check_manifest(scaler, "1.33")

    assert [f.tool for f in findings] == ["crd-schema"], findings


def test_typo_in_action_is_flagged_by_parliament() -> None:
    findings = lint(Document("urn:test", "aws:iam/rolePolicy:RolePolicy worker policy", TYPO))

    assert [(f.code, f.explained) for f in findings] == [("UNKNOWN_ACTION", False)], findings
    assert "sqs:GetQueueAtributes" in findings[0].detail


def test_allow_listed_finding_passes_but_the_same_elsewhere_fails() -> None:
    on_key = lint(Document("urn:key", "aws:kms/key:Key queue-key policy", KEY_POLICY))
    on_role = lint(Document("urn:role", "aws:iam/rolePolicy:RolePolicy admin policy", KEY_POLICY))

    assert [(f.code, f.explained) for f in on_key] == [("RESOURCE_STAR", True)], on_key
    assert [(f.code, f.explained) for f in on_role] == [("RESOURCE_STAR", False)], on_role


def test_without_an_allow_list_every_finding_is_unexplained() -> None:
    findings = lint(Document("urn:key", "aws:kms/key:Key queue-key policy", KEY_POLICY), [])

    assert findings
    assert not [f for f in findings if f.explained]
