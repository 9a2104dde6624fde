"""Every launcher of EC2 instances names a launch template that this stack declares.

IMDSv2 and volume encryption are judged on the launch template (or launch configuration), so a
node group, an Auto Scaling group, a fleet, a Batch compute environment or an instance that names
one by a literal id or name (or one read with `aws.ec2.get_launch_template`) launches from
settings the pack never sees. A reference counts as declared when its id or name is the id or
name of a template in the stack. At a preview a new template's id is not known, and neither is
any reference truly built from it: an unknown reference passes when the engine records that it
was built from a template, while a known literal that matches none is someone else's template,
even when another field of the reference (its version, say) comes from a declared one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from matching_policy._props import Verdicts, dependencies, get, items, known_text, label

LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
LAUNCH_CONFIGURATION = "aws:ec2/launchConfiguration:LaunchConfiguration"
# The fields of a template reference: node groups, instances, Auto Scaling groups and spot fleets
# say `id` and `name`; mixed-instances policies and EC2 fleets spell them out.
REFERENCE_FIELDS = ("id", "name", "launchTemplateId", "launchTemplateName")


@dataclass(frozen=True)
class Reference:
    """One place where a launcher names a template: the top-level input and the object there."""

    key: str
    where: str
    spec: Any
    token: str = LAUNCH_TEMPLATE


def _direct(props: object) -> Iterator[Reference]:
    yield Reference("launchTemplate", "launchTemplate", get(props, "launchTemplate"))


def _configs(props: object) -> Iterator[Reference]:
    for index, config in enumerate(items(get(props, "launchTemplateConfigs"))):
        where = f"launchTemplateConfigs[{index}].launchTemplateSpecification"
        yield Reference("launchTemplateConfigs", where, get(config, "launchTemplateSpecification"))


def _auto_scaling(props: object) -> Iterator[Reference]:
    yield from _direct(props)

    configuration = get(props, "launchConfiguration")
    if configuration is not None:
        spec = {"name": configuration}
        yield Reference("launchConfiguration", "launchConfiguration", spec, LAUNCH_CONFIGURATION)

    mixed = get(props, "mixedInstancesPolicy", "launchTemplate")
    spec = get(mixed, "launchTemplateSpecification")
    where = "mixedInstancesPolicy.launchTemplate"
    yield Reference("mixedInstancesPolicy", f"{where}.launchTemplateSpecification", spec)
    for index, override in enumerate(items(get(mixed, "overrides"))):
        spec = get(override, "launchTemplateSpecification")
        where_override = f"{where}.overrides[{index}].launchTemplateSpecification"
        yield Reference("mixedInstancesPolicy", where_override, spec)


def _batch(props: object) -> Iterator[Reference]:
    spec = get(props, "computeResources", "launchTemplate")
    yield Reference("computeResources", "computeResources.launchTemplate", spec)


LAUNCHERS = {
    "aws:batch/computeEnvironment:ComputeEnvironment": _batch,
    "aws:eks/nodeGroup:NodeGroup": _direct,
    "aws:ec2/instance:Instance": _direct,
    "aws:ec2/spotInstanceRequest:SpotInstanceRequest": _direct,
    "aws:autoscaling/group:Group": _auto_scaling,
    "aws:ec2/fleet:Fleet": _configs,
    "aws:ec2/spotFleetRequest:SpotFleetRequest": _configs,
}

TEMPLATES_EXAMPLE = """\
aws.eks.NodeGroup("nodes", launch_template={"id": "lt-0123456789abcdef0", "version": "1"}, ...)
"""


@dataclass(frozen=True)
class Declared:
    """The ids and names of the launch templates the view carries, and the templates by URN."""

    names: frozenset[str]
    templates: dict[str, PolicyResource]


def _declared(resources: list[PolicyResource]) -> Declared:
    kinds = (LAUNCH_TEMPLATE, LAUNCH_CONFIGURATION)
    templates = {r.urn: r for r in resources if r.resource_type in kinds}
    names = {
        found
        for template in templates.values()
        for key in ("id", "name")
        if (found := known_text(template.props, key)) is not None
    }
    return Declared(frozenset(names), templates)


def _check_declared(args: StackValidationArgs, report: ReportViolation) -> None:
    verdicts = Verdicts(report)
    declared = _declared(args.resources)

    for launcher in (r for r in args.resources if r.resource_type in LAUNCHERS):
        verdicts.judge(launcher.urn, _judge_launcher, launcher, declared, verdicts)
    verdicts.close()


def _judge_launcher(launcher: PolicyResource, declared: Declared, verdicts: Verdicts) -> None:
    for reference in LAUNCHERS[launcher.resource_type](launcher.props):
        if isinstance(reference.spec, Mapping):
            verdicts.judge(launcher.urn, _judge_reference, launcher, reference, declared, verdicts)


def _judge_reference(
    launcher: PolicyResource, reference: Reference, declared: Declared, verdicts: Verdicts
) -> None:
    built_from = dependencies(launcher, reference.key, reference.token)

    # Iterating reads keys only; `in` would read the value and raise when it is unknown.
    named = set(cast(Mapping[str, Any], reference.spec))
    for field in (f for f in REFERENCE_FIELDS if f in named):
        try:
            value = get(reference.spec, field)
        except UnknownValueError:
            # Only an output is unknown: without a link to a template, it is someone else's.
            if built_from:
                continue
            raise
        if not isinstance(value, str) or value in declared.names:
            continue
        verdicts.violation(
            f"{label(launcher)} launches from {_kind(reference.token)} {value!r} "
            f"({reference.where}.{field}), which this stack does not declare: its IMDS and "
            "volume settings are out of the pack's sight",
            launcher.urn,
        )


def _kind(token: str) -> str:
    return "launch configuration" if token == LAUNCH_CONFIGURATION else "launch template"


# A template from elsewhere would carry IMDSv1 or unencrypted volumes past every other rule.
LAUNCH_TEMPLATES_DECLARED = StackValidationPolicy(
    name="launch-templates-declared",
    description="Every EKS node group, Auto Scaling group, EC2 fleet, spot fleet, Batch compute "
    "environment and instance that launches from a launch template or launch configuration "
    "names one this stack declares, so that the IMDS and volume policies judge what it launches.",
    validate=_check_declared,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps="Declare the template in the program and pass its `id` output.",
)

POLICIES = [LAUNCH_TEMPLATES_DECLARED]
