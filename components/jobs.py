"""Where jobs live: the queue and its dead letters, the results table, the providers' secrets.

Everything here holds medical records or the keys to the LLM providers, so it is encrypted with
one key of our own, refuses plain HTTP where the service allows a policy, and is protected from
deletion in production. A record is never lost: a failing one moves to the dead-letter queue and
waits there, and a result stays recoverable (point-in-time) until its TTL expires it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.iam import Statement, policy_document_output
from components.owner import Owner
from components.settings import WorkerSettings

DAY_SECONDS = 24 * 3600
# Long polling: an idle worker waits on the queue instead of paying for empty receives.
RECEIVE_WAIT_SECONDS = 20

# The results table's keys: a client's jobs share a partition, so the API lists them with one
# Query and fetches one with GetItem. Workers set the TTL attribute (epoch seconds) on each write.
RESULTS_PARTITION_KEY = "clientId"
RESULTS_SORT_KEY = "jobId"
RESULTS_TTL_ATTRIBUTE = "expiresAt"
# The most Secrets Manager allows: a secret deleted by mistake can be restored for a month.
SECRET_RECOVERY_DAYS = 30


@dataclass(frozen=True)
class JobStores:
    key: aws.kms.Key
    queue: aws.sqs.Queue
    dead_letters: aws.sqs.Queue
    table: aws.dynamodb.Table
    secrets: tuple[aws.secretsmanager.Secret, ...]


def job_stores(owner: Owner, settings: WorkerSettings, account_id: pulumi.Output[str]) -> JobStores:
    key = data_key(owner, account_id)
    dead_letters, queue = queues(owner, settings, key)
    table = results_table(owner, key)
    return JobStores(key, queue, dead_letters, table, provider_secrets(owner, settings, key))


def data_key(owner: Owner, account_id: pulumi.Output[str]) -> aws.kms.Key:
    """A key of our own: the aws/sqs key's policy can't be edited, nor its deletion governed.

    It still bears the name of its first use, the queues: a new name would replace the key.
    """
    administrators = Statement(
        Sid="AccountAdministersThroughIam",
        Effect="Allow",
        Principal={"AWS": pulumi.Output.concat("arn:aws:iam::", account_id, ":root")},
        Action="kms:*",
        Resource="*",
    )
    key = aws.kms.Key(
        f"{owner.name}-queue-key",
        description=f"{owner.name}: encrypts the queues, the results and the LLM secrets",
        enable_key_rotation=True,
        deletion_window_in_days=30,
        policy=policy_document_output([administrators]),
        opts=owner.stateful(),
    )
    aws.kms.Alias(
        f"{owner.name}-queue-key",
        name=f"alias/{owner.name}-queues",
        target_key_id=key.key_id,
        opts=owner.child(),
    )
    return key


def queues(
    owner: Owner, settings: WorkerSettings, key: aws.kms.Key
) -> tuple[aws.sqs.Queue, aws.sqs.Queue]:
    protect = owner.stateful()
    # SQS keeps a message's first enqueue time when it moves it here, so this retention
    # counts from the record's arrival; the settings keep it a week above the main queue's.
    dead_letters = aws.sqs.Queue(
        f"{owner.name}-dead-letters",
        kms_master_key_id=key.arn,
        message_retention_seconds=settings.dead_letter_retention_days * DAY_SECONDS,
        visibility_timeout_seconds=settings.visibility_timeout_seconds,
        opts=protect,
    )
    queue = aws.sqs.Queue(
        f"{owner.name}-queue",
        kms_master_key_id=key.arn,
        message_retention_seconds=settings.queue_retention_days * DAY_SECONDS,
        receive_wait_time_seconds=RECEIVE_WAIT_SECONDS,
        # Derived from the longest LLM task: a record still being matched never reappears.
        visibility_timeout_seconds=settings.visibility_timeout_seconds,
        redrive_policy=pulumi.Output.json_dumps(
            {
                "deadLetterTargetArn": dead_letters.arn,
                "maxReceiveCount": settings.max_receive_count,
            }
        ),
        opts=protect,
    )

    # Set on its own resource: the queue needs the dead-letter ARN and this policy the queue's.
    aws.sqs.RedriveAllowPolicy(
        f"{owner.name}-dead-letters-sources",
        queue_url=dead_letters.url,
        redrive_allow_policy=pulumi.Output.json_dumps(
            {"redrivePermission": "byQueue", "sourceQueueArns": [queue.arn]}
        ),
        opts=owner.child(),
    )
    for role, target in (("queue", queue), ("dead-letters", dead_letters)):
        aws.sqs.QueuePolicy(
            f"{owner.name}-{role}-tls-only",
            queue_url=target.url,
            policy=_tls_only(target.arn),
            opts=owner.child(),
        )
    return dead_letters, queue


def results_table(owner: Owner, key: aws.kms.Key) -> aws.dynamodb.Table:
    """Each job's status and result, kept for the TTL of the settings and recoverable."""
    return aws.dynamodb.Table(
        f"{owner.name}-results",
        # Bursts come and go with the queue; on-demand needs no capacity planned for them.
        billing_mode="PAY_PER_REQUEST",
        hash_key=RESULTS_PARTITION_KEY,
        range_key=RESULTS_SORT_KEY,
        attributes=[
            {"name": RESULTS_PARTITION_KEY, "type": "S"},
            {"name": RESULTS_SORT_KEY, "type": "S"},
        ],
        ttl={"attribute_name": RESULTS_TTL_ATTRIBUTE, "enabled": True},
        point_in_time_recovery={"enabled": True},
        server_side_encryption={"enabled": True, "kms_key_arn": key.arn},
        deletion_protection_enabled=owner.protect_state,
        opts=owner.stateful(),
    )


def provider_secrets(
    owner: Owner, settings: WorkerSettings, key: aws.kms.Key
) -> tuple[aws.secretsmanager.Secret, ...]:
    """One secret per LLM provider, made empty: its value is set outside code and stack files.

    No SecretVersion is ever declared here, so no key is written to the Pulumi state either.
    """
    return tuple(
        aws.secretsmanager.Secret(
            f"{owner.name}-llm-{provider}",
            name=f"{owner.name}/llm/{provider}",
            description=f"{owner.name}: API credentials for the LLM provider {provider}",
            kms_key_id=key.arn,
            recovery_window_in_days=SECRET_RECOVERY_DAYS,
            opts=owner.stateful(),
        )
        for provider in settings.llm_providers
    )


def _tls_only(queue_arn: pulumi.Output[str]) -> pulumi.Output[str]:
    return policy_document_output(
        [
            Statement(
                Sid="DenyInsecureTransport",
                Effect="Deny",
                Principal={"AWS": "*"},
                Action="sqs:*",
                Resource=queue_arn,
                Condition={"Bool": {"aws:SecureTransport": "false"}},
            )
        ]
    )
