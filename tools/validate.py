"""Checks what the program declares with the tools that own each format.

    python -m tools.validate [--stack staging|prod]

Kubernetes objects go through `kubernetes-validate` with the strict schemas of the cluster's
minor version (the nearest it ships that is not newer), custom resources through the CRDs
vendored in `tools/schemas/`; Helm releases are not manifests and are only listed. Every IAM
document (identity, trust and resource policies) goes through `parliament`. A finding is
explained only by an entry of `ALLOWED`, each with its reason; exits 0 when every finding is
explained, 1 when one is not, 2 when the program fails.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any, Protocol, cast

import jsonschema
import kubernetes_validate
import parliament
import yaml
from kubernetes_validate import utils as kv_utils

from tools.offline import ROOT, load_stack_config, run_program
from tools.records import ResourceRecord

SCHEMAS = Path(__file__).resolve().parent / "schemas"
KUBERNETES = "kubernetes:"
# Charts render their objects inside the provider: there is no manifest here to check.
HELM = frozenset(
    {"kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v3:Chart", "kubernetes:helm.sh/v4:Chart"}
)
MANIFEST_KEYS = ("apiVersion", "kind", "metadata")

# Where each kind of resource keeps its IAM documents.
DOCUMENT_FIELDS: dict[str, tuple[str, ...]] = {
    "aws:iam/policy:Policy": ("policy",),
    "aws:iam/rolePolicy:RolePolicy": ("policy",),
    "aws:iam/userPolicy:UserPolicy": ("policy",),
    "aws:iam/groupPolicy:GroupPolicy": ("policy",),
    "aws:iam/role:Role": ("assumeRolePolicy",),
    "aws:sqs/queuePolicy:QueuePolicy": ("policy",),
    "aws:sqs/queue:Queue": ("policy",),
    "aws:sns/topicPolicy:TopicPolicy": ("policy",),
    "aws:sns/topic:Topic": ("policy",),
    "aws:kms/key:Key": ("policy",),
    "aws:s3/bucketPolicy:BucketPolicy": ("policy",),
}

EXIT_OK = 0
EXIT_UNEXPLAINED = 1
EXIT_ERROR = 2


@dataclass(frozen=True)
class Finding:
    """One thing a format's own tool said of one object or document."""

    tool: str
    urn: str
    where: str
    code: str
    detail: str
    reason: str | None = None

    @property
    def explained(self) -> bool:
        return self.reason is not None


@dataclass(frozen=True)
class Allowance:
    """A finding accepted on purpose: its code, where it may sit, what it says, and why."""

    code: str
    where: str
    detail: str
    reason: str

    def covers(self, finding: Finding) -> bool:
        return (
            finding.code == self.code
            and re.search(self.where, finding.where) is not None
            and re.search(self.detail, finding.detail) is not None
        )


ALLOWED: tuple[Allowance, ...] = (
    Allowance(
        "MALFORMED",
        r" assumeRolePolicy$",
        r"neither Resource nor NotResource",
        "a trust policy's resource is the role itself: AWS rejects a Resource element there",
    ),
    Allowance(
        "RESOURCE_STAR",
        r"^aws:kms/key:Key ",
        r"",
        'a key policy\'s Resource is "*" (this key): the only form AWS accepts',
    ),
    Allowance(
        "UNKNOWN_CONDITION_FOR_ACTION",
        r"^aws:kms/key:Key ",
        r"kms:EncryptionContext:aws:logs:arn for action kms:Describe",
        "AWS's documented CloudWatch Logs key statement: the context condition leaves "
        "kms:Describe* inert, never broader",
    ),
    Allowance(
        "MISMATCHED_TYPE",
        r"^aws:kms/key:Key ",
        r"ArnLike requires a value of type Arn but given String",
        "AWS documents ArnLike for kms:EncryptionContext:aws:logs:arn; parliament types every "
        "encryption-context key as String",
    ),
    Allowance(
        "RESOURCE_MISMATCH",
        r"^aws:iam/policy:Policy \S*karpenter-node-lifecycle policy$",
        r"ec2:(RunInstances|CreateFleet)",
        "Karpenter's documented controller policy splits RunInstances and CreateFleet across "
        "statements with different tag conditions; IAM checks each resource against all of "
        "them, parliament wants each statement to name every resource type",
    ),
    Allowance(
        "RESOURCE_STAR",
        r"^aws:iam/rolePolicy:RolePolicy \S*grafana\S* policy$",
        r"cloudwatch:Describe",
        "Grafana's documented CloudWatch data-source policy: read-only reads of every alarm "
        "and metric in the account, which the dashboards show",
    ),
)


# --- Kubernetes -----------------------------------------------------------------------------


def manifests(records: Sequence[ResourceRecord]) -> tuple[list[ResourceRecord], list[str]]:
    """The Kubernetes objects among `records`, and the Helm releases skipped (by URN)."""
    objects: list[ResourceRecord] = []
    skipped: list[str] = []
    for record in records:
        if not record.type.startswith(KUBERNETES):
            continue
        if record.type in HELM:
            skipped.append(record.urn)
        elif all(key in record.inputs for key in MANIFEST_KEYS):
            objects.append(record)
    return objects, skipped


def schema_version(version: str) -> str:
    """The newest minor version `kubernetes-validate` ships that is not newer than `version`."""
    wanted = _minor(version)
    shipped = sorted({_minor(v) for v in kv_utils.all_versions()})
    older = [v for v in shipped if v <= wanted]
    chosen = older[-1] if older else shipped[0]
    return f"{chosen[0]}.{chosen[1]}"


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.lstrip("v").split(".")[:2]
    return int(major), int(minor)


def check_kubernetes(records: Sequence[ResourceRecord], version: str) -> list[Finding]:
    found: list[Finding] = []
    for record in manifests(records)[0]:
        found.extend(check_manifest(record, version))
    return found


def check_manifest(record: ResourceRecord, version: str) -> list[Finding]:
    """One object against its CRD when one is vendored, else the Kubernetes schema."""
    body = record.inputs
    where = f"{body['kind']} {body['apiVersion']}"
    crd = custom_schemas().get((str(body["apiVersion"]), str(body["kind"])))
    if crd is not None:
        validator = jsonschema.Draft202012Validator(crd)
        found = validator.iter_errors(body)  # pyright: ignore[reportUnknownMemberType]
        errors = sorted(found, key=str)
        return [_schema_finding("crd-schema", record, where, e) for e in errors]

    try:
        kubernetes_validate.validate(dict(body), version, strict=True)
    except kubernetes_validate.ValidationError as error:
        return [_schema_finding("kubernetes-validate", record, where, error)]
    except kubernetes_validate.SchemaNotFoundError:
        detail = f"no schema for {where} in Kubernetes {version} nor in tools/schemas"
        return [Finding("kubernetes-validate", record.urn, where, "NO_SCHEMA", detail)]
    return []


def _schema_finding(
    tool: str, record: ResourceRecord, where: str, error: jsonschema.ValidationError
) -> Finding:
    path = ".".join(str(step) for step in error.absolute_path) or "(root)"
    return Finding(tool, record.urn, where, "SCHEMA", f"{path}: {error.message}")


@cache
def custom_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """Each served version of each vendored CRD, keyed by (apiVersion, kind), made strict."""
    schemas: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(SCHEMAS.glob("*.yaml")):
        crd = cast(dict[str, Any], yaml.safe_load(path.read_text()))
        spec = crd["spec"]
        for version in spec["versions"]:
            if version.get("served"):
                api_version = f"{spec['group']}/{version['name']}"
                schema = _strict(version["schema"]["openAPIV3Schema"])
                schemas[(api_version, spec["names"]["kind"])] = schema
    return schemas


def _strict(schema: dict[str, Any]) -> dict[str, Any]:
    """Unknown fields rejected wherever the CRD lists an object's fields and keeps no others."""
    result = {key: _strict_value(value) for key, value in schema.items()}
    keeps_unknown = schema.get("x-kubernetes-preserve-unknown-fields") is True
    if "properties" in schema and "additionalProperties" not in schema and not keeps_unknown:
        result["additionalProperties"] = False
    return result


def _strict_value(value: Any) -> Any:
    if isinstance(value, dict):
        mapping = cast(dict[str, Any], value)
        if "type" in mapping or "properties" in mapping or "items" in mapping:
            return _strict(mapping)
        return {key: _strict_value(item) for key, item in mapping.items()}
    if isinstance(value, list):
        return [_strict_value(item) for item in cast(list[Any], value)]
    return value


# --- IAM ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Document:
    urn: str
    where: str
    text: str


def documents(records: Sequence[ResourceRecord]) -> Iterator[Document]:
    """Every IAM document in the plan, named `<type> <name> <field>`."""
    for record in records:
        prefix = f"{record.type} {record.name}"
        for field in DOCUMENT_FIELDS.get(record.type, ()):
            text = record.inputs.get(field)
            if isinstance(text, str):
                yield Document(record.urn, f"{prefix} {field}", text)
        for index, inline in enumerate(_inline_policies(record)):
            yield Document(record.urn, f"{prefix} inlinePolicies[{index}]", inline)


def _inline_policies(record: ResourceRecord) -> list[str]:
    listed = record.inputs.get("inlinePolicies") if record.type == "aws:iam/role:Role" else None
    entries = cast(list[Any], listed) if isinstance(listed, list) else []
    policies = [cast(Mapping[str, Any], p) for p in entries if isinstance(p, Mapping)]
    return [p["policy"] for p in policies if isinstance(p.get("policy"), str)]


class _Issue(Protocol):
    """What parliament (untyped) reports of one finding."""

    issue: str
    detail: object


class _Linted(Protocol):
    findings: list[_Issue]


_analyze = cast(
    Callable[[str], _Linted],
    parliament.analyze_policy_string,  # pyright: ignore[reportUnknownMemberType] (untyped)
)


def lint(document: Document, allowed: Sequence[Allowance] = ALLOWED) -> list[Finding]:
    """Parliament's findings on one document, each with its reason when `allowed` covers it."""
    policy = _analyze(document.text)
    found: list[Finding] = []
    for issue in policy.findings:
        detail = issue.detail if isinstance(issue.detail, str) else json.dumps(issue.detail)
        finding = Finding("parliament", document.urn, document.where, issue.issue, detail)
        reason = next((a.reason for a in allowed if a.covers(finding)), None)
        found.append(replace(finding, reason=reason))
    return found


def check_iam(
    records: Sequence[ResourceRecord], allowed: Sequence[Allowance] = ALLOWED
) -> list[Finding]:
    return [finding for doc in documents(records) for finding in lint(doc, allowed)]


# --- the command ----------------------------------------------------------------------------


def cluster_version(stack: str, root: Path = ROOT) -> str:
    config = load_stack_config(stack, root)
    cluster = cast(Mapping[str, Any], config.values.get(f"{config.project}:cluster") or {})
    return str(cluster["kubernetesVersion"])


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        records = run_program(args.stack).resources
        version = cluster_version(args.stack)
    except Exception as error:  # the program or its settings: reported, exit 2
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR

    findings = _report_kubernetes(records, version) + _report_iam(records)
    unexplained = [f for f in findings if not f.explained]
    for finding in findings:
        mark = f"allowed: {finding.reason}" if finding.reason else "UNEXPLAINED"
        _say(f"  [{finding.tool}] {finding.where}: {finding.code} {finding.detail}\n    {mark}")
    _say(f"{len(findings)} finding(s), {len(unexplained)} unexplained")
    return EXIT_UNEXPLAINED if unexplained else EXIT_OK


def _report_kubernetes(records: Sequence[ResourceRecord], version: str) -> list[Finding]:
    objects, skipped = manifests(records)
    chosen = schema_version(version)
    note = "" if chosen == version else f" (the nearest shipped for {version})"
    _say(f"Kubernetes {version}: {len(objects)} object(s) against the {chosen} schemas{note}")
    for urn in skipped:
        _say(f"  skipped (Helm release, not a manifest): {urn}")
    return check_kubernetes(records, chosen)


def _report_iam(records: Sequence[ResourceRecord]) -> list[Finding]:
    docs = list(documents(records))
    _say(f"IAM: {len(docs)} document(s) through parliament")
    return [finding for doc in docs for finding in lint(doc)]


def _say(line: str) -> None:
    print(line)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.validate",
        description="Check a stack's Kubernetes objects and IAM documents with their own tools.",
    )
    parser.add_argument("--stack", default="staging", help="the stack to check (default: staging)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
