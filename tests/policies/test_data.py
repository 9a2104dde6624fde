"""Queues, keys and topics: customer-managed encryption, rotation, and no lost message."""

from __future__ import annotations

import json

import pytest

from tests.policies.builders import DEFAULT_PROVIDER, changed, resource, without
from tests.policies.conftest import POLICY_DIR, Judge, as_cli
from tests.policies.expect import explain, policies
from tools.analyzer import PolicyPack, load_policy_config
from tools.records import UNKNOWN, ResourceRecord

QUEUE = "aws:sqs/queue:Queue"
KEY_ARN = "arn:aws:kms:eu-central-1:111122223333:key/1"
DLQ_ARN = "arn:aws:sqs:eu-central-1:111122223333:jobs-dlq"


def _queue(name: str, **inputs: object) -> ResourceRecord:
    arn = f"arn:aws:sqs:eu-central-1:111122223333:{name}"
    return resource(QUEUE, name, {"kmsMasterKeyId": KEY_ARN, **inputs}, computed={"arn": arn})


DLQ = _queue("jobs-dlq")
REDRIVE = json.dumps({"deadLetterTargetArn": DLQ_ARN, "maxReceiveCount": 5})
JOBS = resource(
    QUEUE,
    "jobs",
    {"kmsMasterKeyId": KEY_ARN, "redrivePolicy": REDRIVE},
    links={"redrivePolicy": [DLQ]},
)


def test_queue_pair_passes(judge: Judge) -> None:
    found = judge([DEFAULT_PROVIDER, DLQ, JOBS])

    assert found == [], explain(JOBS.urn, found)


def test_dead_letter_named_by_literal_arn_passes(pack: PolicyPack) -> None:
    jobs = _queue("jobs", redrivePolicy=REDRIVE)

    found = as_cli(pack, [DEFAULT_PROVIDER, DLQ, jobs])

    assert found == [], explain(jobs.urn, found)


def test_unknown_redrive_at_preview_is_advisory_not_a_false_block(judge: Judge) -> None:
    dlq = changed(DLQ, arn=UNKNOWN)
    jobs = changed(JOBS, redrivePolicy=UNKNOWN)
    lonely = _queue("lonely")

    found = judge([DEFAULT_PROVIDER, dlq, jobs, lonely])

    # The engine names what the unknown policy is built from: the dead-letter queue is
    # cleared, the lonely queue is certainly uncovered, and only `jobs` waits for its value.
    assert policies(found) == ["sqs-dead-letter"], explain(jobs.urn, found)
    assert [v.urn for v in found if v.enforcement == "mandatory"] == [lonely.urn]
    notes = [v.message for v in found if v.enforcement == "advisory"]
    assert len(notes) == 1, explain(jobs.urn, found)
    assert "redrivePolicy" in notes[0], "an unknown redrive policy is said, never passed"
    assert jobs.urn in notes[0]


def test_queue_without_dead_letter_is_blocked(judge: Judge) -> None:
    lonely = _queue("lonely")

    found = judge([DEFAULT_PROVIDER, DLQ, JOBS, lonely])

    assert policies(found) == ["sqs-dead-letter"], explain(lonely.urn, found)
    assert found[0].urn == lonely.urn


@pytest.mark.parametrize(
    ("record", "policy"),
    [
        pytest.param(without(DLQ, "kmsMasterKeyId"), "sqs-kms-cmk", id="queue-unencrypted"),
        pytest.param(changed(DLQ, kmsMasterKeyId="alias/aws/sqs"), "sqs-kms-cmk", id="aws-key"),
        pytest.param(resource("aws:kms/key:Key", "k", {}), "kms-key-rotation", id="no-rotation"),
        pytest.param(resource("aws:sns/topic:Topic", "alerts", {}), "sns-topic-kms", id="topic"),
    ],
)
def test_data_violation_is_caught(pack: PolicyPack, record: ResourceRecord, policy: str) -> None:
    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert policies(found) == [policy], explain(record.urn, found)


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(resource("aws:kms/key:Key", "k", {"enableKeyRotation": True}), id="key"),
        pytest.param(
            resource("aws:kms/key:Key", "sign", {"customerMasterKeySpec": "RSA_2048"}),
            id="asymmetric-key",
        ),
        pytest.param(
            resource("aws:sns/topic:Topic", "alerts", {"kmsMasterKeyId": KEY_ARN}), id="topic"
        ),
    ],
)
def test_compliant_data_resource_passes(pack: PolicyPack, record: ResourceRecord) -> None:
    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert found == [], explain(record.urn, found)


@pytest.mark.parametrize(
    ("token", "key", "policy"),
    [
        (QUEUE, "arn:aws:kms:eu-central-1:111122223333:alias/aws/sqs", "sqs-kms-cmk"),
        (QUEUE, "alias/aws/sqs ", "sqs-kms-cmk"),
        (QUEUE, "Alias/AWS/SQS", "sqs-kms-cmk"),
        (
            "aws:sns/topic:Topic",
            "arn:aws:kms:eu-central-1:111122223333:alias/aws/sns",
            "sns-topic-kms",
        ),
    ],
    ids=["sqs-alias-arn", "sqs-padded", "sqs-upper", "sns-alias-arn"],
)
def test_aws_managed_key_in_any_spelling_is_blocked(
    pack: PolicyPack, token: str, key: str, policy: str
) -> None:
    record = resource(token, "spelt", {"kmsMasterKeyId": key})

    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert policy in policies(found), explain(record.urn, found)


def test_topic_with_aws_managed_key_is_blocked(pack: PolicyPack) -> None:
    topic = resource("aws:sns/topic:Topic", "alerts", {"kmsMasterKeyId": "alias/aws/sns"})

    found = pack.analyze(topic, DEFAULT_PROVIDER)

    assert policies(found) == ["sns-topic-kms"], explain(topic.urn, found)
    assert "AWS-managed" in found[0].message


# --- stateful-protected ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "aws:sqs/queue:Queue",
        "aws:dynamodb/table:Table",
        "aws:kms/key:Key",
        "aws:secretsmanager/secret:Secret",
    ],
)
def test_unprotected_stateful_resource_is_blocked(pack: PolicyPack, token: str) -> None:
    inputs = {"kmsMasterKeyId": KEY_ARN, "enableKeyRotation": True}
    record = resource(token, "store", inputs, protect=False)

    found = pack.analyze(record, DEFAULT_PROVIDER)

    assert "stateful-protected" in policies(found), explain(record.urn, found)
    assert resource(token, "store", inputs).protect, "builders protect stateful types"


@pytest.mark.parametrize(("stack_name", "blocks"), [("staging", False), ("prod", True)])
def test_protection_is_required_in_prod_only(
    pack: PolicyPack, stack_name: str, blocks: bool
) -> None:
    pack.configure(load_policy_config(POLICY_DIR / "config" / f"{stack_name}.json"))
    table = resource("aws:dynamodb/table:Table", "results", {}, protect=False)

    found = pack.analyze(table, DEFAULT_PROVIDER)

    assert ("stateful-protected" in policies(found)) is blocks, explain(table.urn, found)


def test_unprotected_stateless_resource_passes(pack: PolicyPack) -> None:
    topic = resource("aws:sns/topic:Topic", "alerts", {"kmsMasterKeyId": KEY_ARN}, protect=False)

    found = pack.analyze(topic, DEFAULT_PROVIDER)

    assert found == [], explain(topic.urn, found)
