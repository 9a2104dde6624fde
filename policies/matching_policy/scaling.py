"""KEDA on SQS: workers scale down gently, and a message cut off by a scale-down comes back.

With `scaleOnInFlight: false` the HPA may stop a worker in the middle of an LLM call. The worker
gets `terminationGracePeriodSeconds` to finish or give the message back; if the queue's
visibility timeout is not longer than that, the message reappears while the first worker still
holds it, and is matched twice. `cooldownPeriod` only gates scaling to zero, so with one replica
or more the scale-down pace is the HPA's `behavior.scaleDown`, whose window the HPA caps at 3600 s.
"""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from matching_policy._props import Verdicts, get, items, known_text, label, linked, number

SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject"
SQS_TRIGGER = "aws-sqs-queue"
QUEUE = "aws:sqs/queue:Queue"
# The workload kinds a ScaledObject's scaleTargetRef can name, by kind.
TARGETS = {
    "Deployment": "kubernetes:apps/v1:Deployment",
    "StatefulSet": "kubernetes:apps/v1:StatefulSet",
}
DEFAULT_GRACE_SECONDS = 30  # Kubernetes' default terminationGracePeriodSeconds
DEFAULT_VISIBILITY_SECONDS = 30  # SQS's default VisibilityTimeout
MAX_WINDOW_SECONDS = 3600  # the HPA rejects a longer stabilization window


def _sqs_triggers(props: object) -> list[object]:
    return [t for t in items(get(props, "spec", "triggers")) if get(t, "type") == SQS_TRIGGER]


# --- keda-scale-down-window ------------------------------------------------------------------

KEDA_WINDOW_EXAMPLE = """\
k8s.apiextensions.CustomResource("worker-scaler", kind="ScaledObject", spec={
    "minReplicaCount": 1, "cooldownPeriod": 7200, "triggers": [{"type": "aws-sqs-queue", ...}]})
"""


def _check_window(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != SCALED_OBJECT or not _sqs_triggers(args.props):
        return

    # With no replicas left there is nothing to scale down: cooldownPeriod governs 1 -> 0.
    if (number(get(args.props, "spec", "minReplicaCount")) or 0) <= 0:
        return

    behavior = get(args.props, "spec", "advanced", "horizontalPodAutoscalerConfig", "behavior")
    window = number(get(behavior, "scaleDown", "stabilizationWindowSeconds"))
    subject = f"ScaledObject '{args.name}' ({args.urn})"
    if window is None:
        report(
            f"{subject} keeps replicas but sets no behavior.scaleDown.stabilizationWindowSeconds: "
            "cooldownPeriod does not apply above zero, so the HPA's 300 s default rules",
            None,
        )
    elif window > MAX_WINDOW_SECONDS:
        report(f"{subject} asks for a {window} s window; the HPA accepts at most 3600", None)


KEDA_SCALE_DOWN_WINDOW = ResourceValidationPolicy(
    name="keda-scale-down-window",
    description="Every KEDA ScaledObject on SQS that keeps replicas (minReplicaCount > 0) sets "
    "an HPA scale-down stabilization window of at most 3600 s.",
    validate=_check_window,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.MEDIUM,
)


# --- sqs-visibility-above-grace --------------------------------------------------------------

VISIBILITY_EXAMPLE = """\
aws.sqs.Queue("jobs", visibility_timeout_seconds=60)  # workers get 90 s to finish on SIGTERM
"""


def _check_visibility(args: StackValidationArgs, report: ReportViolation) -> None:
    verdicts = Verdicts(report)
    for scaler in (r for r in args.resources if r.resource_type == SCALED_OBJECT):
        verdicts.judge(scaler.urn, _judge_scaler, scaler, args.resources, verdicts)
    verdicts.close()


def _judge_scaler(
    scaler: PolicyResource, resources: list[PolicyResource], verdicts: Verdicts
) -> None:
    triggers = _sqs_triggers(scaler.props)
    if not triggers:
        return

    target = _target(scaler, resources)
    if target is None:
        name = get(scaler.props, "spec", "scaleTargetRef", "name")
        verdicts.violation(
            f"ScaledObject {label(scaler)} scales {name!r}, which is not in this stack: its "
            "grace period can't be held under the queue's visibility timeout",
            scaler.urn,
        )
        return

    for trigger in triggers:
        verdicts.judge(scaler.urn, _judge_queue, scaler, trigger, target, resources, verdicts)


def _target(scaler: PolicyResource, resources: list[PolicyResource]) -> PolicyResource | None:
    ref = get(scaler.props, "spec", "scaleTargetRef")
    token = TARGETS.get(get(ref, "kind") or "Deployment")
    namespace = get(scaler.props, "metadata", "namespace")
    for resource in resources:
        if (
            resource.resource_type == token
            and get(resource.props, "metadata", "name") == get(ref, "name")
            and get(resource.props, "metadata", "namespace") == namespace
        ):
            return resource
    return None


def _judge_queue(
    scaler: PolicyResource,
    trigger: object,
    target: PolicyResource,
    resources: list[PolicyResource],
    verdicts: Verdicts,
) -> None:
    queue = _queue(scaler, trigger, resources)
    if queue is None:
        verdicts.violation(
            f"ScaledObject {label(scaler)} reads queue {get(trigger, 'metadata', 'queueURL')!r}, "
            "which is not in this stack: its visibility timeout can't be checked",
            scaler.urn,
        )
        return

    grace = number(get(target.props, "spec", "template", "spec", "terminationGracePeriodSeconds"))
    visibility = number(get(queue.props, "visibilityTimeoutSeconds"))
    visibility = DEFAULT_VISIBILITY_SECONDS if visibility is None else visibility
    grace = DEFAULT_GRACE_SECONDS if grace is None else grace
    if visibility <= grace:
        verdicts.violation(
            f"queue {label(queue)} hides a received message for {visibility} s, not longer than "
            f"the {grace} s that '{target.name}' (scaled by '{scaler.name}') may take to stop: "
            "a message cut off by a scale-down is matched twice",
            queue.urn,
        )


def _queue(
    scaler: PolicyResource, trigger: object, resources: list[PolicyResource]
) -> PolicyResource | None:
    """The queue a trigger names by URL (a queue's `url`, or its `id`, which is the URL), or
    else the one queue the engine says the ScaledObject's spec was built from."""
    queues = [r for r in resources if r.resource_type == QUEUE]
    url = known_text(trigger, "metadata", "queueURL")
    for queue in queues:
        if url is not None and url in (
            known_text(queue.props, "url"),
            known_text(queue.props, "id"),
        ):
            return queue

    built_from = [q for q in queues if q.urn in linked(scaler, "spec", QUEUE)]
    if len(built_from) == 1:
        return built_from[0]

    # Not found: certain only when every URL involved is known; else wait for the values.
    get(trigger, "metadata", "queueURL")
    for queue in queues:
        get(queue.props, "url")
    return None


SQS_VISIBILITY_ABOVE_GRACE = StackValidationPolicy(
    name="sqs-visibility-above-grace",
    description="The visibility timeout of every queue a KEDA ScaledObject scales on exceeds the "
    "terminationGracePeriodSeconds of the workload it scales.",
    validate=_check_visibility,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
)

POLICIES = [KEDA_SCALE_DOWN_WINDOW, SQS_VISIBILITY_ABOVE_GRACE]
