"""The job stores: nothing held in clear, nothing lost, and no secret value ever in the program."""

from __future__ import annotations

import pytest

from components.jobs import DAY_SECONDS, RESULTS_TTL_ATTRIBUTE
from components.settings import StackSettings
from components.workers import worker_grace_period_seconds
from tests.components.async_workers_run import KEY, NAME, build, document, pod_spec, queue, types
from tests.conftest import ComponentRunner, of_type, one
from tools.offline import ProgramRun

TABLE = "aws:dynamodb/table:Table"
SECRET = "aws:secretsmanager/secret:Secret"


@pytest.fixture
def run(run_component: ComponentRunner, settings: StackSettings) -> ProgramRun:
    return run_component(build(settings))


def test_data_key_is_customer_managed_rotated_and_protected_in_prod(
    run: ProgramRun, settings: StackSettings
) -> None:
    key = one(run, KEY)

    assert key.inputs["enableKeyRotation"] is True, f"{key.urn} must rotate"
    assert key.protect is settings.is_production, f"{key.urn} protect"


@pytest.mark.parametrize("role", ["queue", "dead-letters"])
def test_queues_are_encrypted_with_the_key_and_protected_in_prod(
    run: ProgramRun, settings: StackSettings, role: str
) -> None:
    record = queue(run, role)
    key_arn = one(run, KEY).outputs["arn"]

    assert record.inputs["kmsMasterKeyId"] == key_arn, f"{record.urn} must use the CMK"
    assert record.protect is settings.is_production, f"{record.urn} protect"


def test_failed_records_go_to_the_dead_letter_queue(
    run: ProgramRun, settings: StackSettings
) -> None:
    main, dead_letters = queue(run, "queue"), queue(run, "dead-letters")
    redrive = document(main, "redrivePolicy")
    allow = document(
        one(run, "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy"), "redriveAllowPolicy"
    )

    assert redrive == {
        "deadLetterTargetArn": dead_letters.outputs["arn"],
        "maxReceiveCount": settings.workers.max_receive_count,
    }, f"{main.urn} redrive policy"
    assert allow == {"redrivePermission": "byQueue", "sourceQueueArns": [main.outputs["arn"]]}


def test_retention_follows_the_settings_and_the_dead_letters_outlast_the_queue(
    run: ProgramRun, settings: StackSettings
) -> None:
    main, dead_letters = queue(run, "queue"), queue(run, "dead-letters")
    workers = settings.workers

    assert main.inputs["messageRetentionSeconds"] == workers.queue_retention_days * DAY_SECONDS
    assert dead_letters.inputs["messageRetentionSeconds"] == 14 * DAY_SECONDS, dead_letters.urn
    # The dead-letter queue counts from the first enqueue: a week must remain after the main's.
    margin = dead_letters.inputs["messageRetentionSeconds"] - main.inputs["messageRetentionSeconds"]
    assert margin >= 7 * DAY_SECONDS


def test_visibility_outlasts_the_grace_period_which_outlasts_the_longest_task(
    run: ProgramRun, settings: StackSettings
) -> None:
    visibility = queue(run, "queue").inputs["visibilityTimeoutSeconds"]
    grace = pod_spec(run, "worker")["terminationGracePeriodSeconds"]
    longest = settings.workers.longest_task_seconds

    assert visibility == settings.workers.visibility_timeout_seconds
    assert grace == longest + settings.workers.shutdown_margin_seconds
    assert visibility > grace > longest, (
        f"need visibility ({visibility}) > grace ({grace}) > longest task ({longest})"
    )


@pytest.mark.parametrize("longest", [10, 60, 900])
def test_grace_period_fits_inside_visibility_for_any_allowed_task(
    settings: StackSettings, longest: int
) -> None:
    workers = settings.workers.model_copy(update={"longest_task_seconds": longest})
    grace = worker_grace_period_seconds(workers)

    assert longest < grace < workers.visibility_timeout_seconds, f"longest task {longest} s"


@pytest.mark.parametrize("role", ["queue", "dead-letters"])
def test_queues_refuse_plain_http(run: ProgramRun, role: str) -> None:
    target = queue(run, role)
    policy = one(run, "aws:sqs/queuePolicy:QueuePolicy", f"{NAME}-{role}-tls-only")

    assert policy.inputs["queueUrl"] == target.outputs["url"], policy.urn
    assert document(policy)["Statement"] == [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "sqs:*",
            "Resource": target.outputs["arn"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ], f"{policy.urn} must deny every non-TLS request"


def test_results_table_is_recoverable_expiring_encrypted_and_protected_in_prod(
    run: ProgramRun, settings: StackSettings
) -> None:
    table = one(run, TABLE, f"{NAME}-results")
    inputs = table.inputs

    assert inputs["billingMode"] == "PAY_PER_REQUEST", table.urn
    assert inputs["pointInTimeRecovery"] == {"enabled": True}, f"{table.urn} needs PITR"
    assert inputs["ttl"] == {"attributeName": RESULTS_TTL_ATTRIBUTE, "enabled": True}, table.urn
    assert inputs["serverSideEncryption"] == {
        "enabled": True,
        "kmsKeyArn": one(run, KEY).outputs["arn"],
    }, f"{table.urn} must use the component's CMK"
    assert table.protect is settings.is_production, f"{table.urn} protect"
    assert inputs["deletionProtectionEnabled"] is settings.is_production, table.urn


def test_one_secret_per_provider_encrypted_and_protected_in_prod(
    run: ProgramRun, settings: StackSettings
) -> None:
    secrets = {record.name: record for record in of_type(run, SECRET)}
    providers = settings.workers.llm_providers
    key_arn = one(run, KEY).outputs["arn"]

    assert set(secrets) == {f"{NAME}-llm-{provider}" for provider in providers}
    for provider in providers:
        secret = secrets[f"{NAME}-llm-{provider}"]
        assert secret.inputs["name"] == f"{NAME}/llm/{provider}", secret.urn
        assert secret.inputs["kmsKeyId"] == key_arn, f"{secret.urn} must use the CMK"
        assert secret.protect is settings.is_production, f"{secret.urn} protect"


def test_secrets_are_created_empty(run: ProgramRun) -> None:
    # A SecretVersion would put the value in code or config and in the Pulumi state.
    versions = sorted(t for t in types(run) if t.startswith("aws:secretsmanager/secretVersion"))
    for secret in of_type(run, SECRET):
        assert not {"secretString", "secretBinary"} & set(secret.inputs), secret.urn

    assert versions == [], f"no secret value may be declared: {versions}"


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_no_secret_value_anywhere_in_the_program(plans: dict[str, ProgramRun], stack: str) -> None:
    versions = [r.urn for r in plans[stack].resources if "secretVersion" in r.type]

    assert versions == [], f"{stack}: secret values declared in the program: {versions}"
