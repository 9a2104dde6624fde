"""A chart's render, judged by the policy pack before its version joins `reviewedCharts`.

    python -m tools.chart_review values --stack prod --release karpenter > values.yaml
    helm template karpenter oci://public.ecr.aws/karpenter/karpenter --version 1.14.1 \\
        --namespace karpenter -f values.yaml > render.yaml
    python -m tools.chart_review check --stack prod render.yaml

The pack never sees what a release renders (that happens inside the Kubernetes provider), so
`helm-chart-reviewed` admits only chart versions whose render someone checked. `values` prints
the values the program gives a release (computed ones are the mocks' placeholders, which do not
change what a chart renders, only the strings in it). `check` declares every object of a render
as one yaml ConfigGroup, as a program could, and sends it through the real pack with the stack's
policy config: LoadBalancer Services, Ingresses, Gateways, unlabelled or lenient namespaces and
unencrypted EBS storage classes are reported as they would be in a plan, after the number of
objects judged. Exits 0 when nothing mandatory fires, 1 when something does, 2 on bad input:
a render that is not YAML, holds no Kubernetes object, or holds a document that is none (the
values file given in place of the render, say).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import yaml
from rich.console import Console
from rich.markup import escape

from tools.analyzer import PolicyPack, PolicyPackError, load_policy_config
from tools.offline import ROOT, load_stack_config, run_program
from tools.records import ResourceRecord, Violation

RELEASES = frozenset(
    {"kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v3:Chart", "kubernetes:helm.sh/v4:Chart"}
)
CONFIG_GROUP = "kubernetes:yaml/v2:ConfigGroup"

EXIT_OK = 0
EXIT_VIOLATIONS = 1
EXIT_ERROR = 2


class ReviewError(Exception):
    """Input the review cannot use: no such release, several, or a render of no objects."""


def release_values(stack: str, part: str, root: Path = ROOT) -> tuple[ResourceRecord, str]:
    """The one release of `stack` whose name holds `part`, and its values as YAML."""
    run = run_program(stack, root)
    found = [r for r in run.resources if r.type in RELEASES and part in r.name]
    if len(found) != 1:
        names = ", ".join(r.name for r in run.resources if r.type in RELEASES)
        raise ReviewError(
            f"{len(found)} releases of stack {stack!r} match {part!r}; they are {names}"
        )

    release = found[0]
    values: object = release.inputs.get("values") or {}
    return release, yaml.safe_dump(values, sort_keys=True)


def render_objects(text: str) -> int:
    """How many Kubernetes objects the render holds; anything else in it is an error.

    An object is a mapping with a string `apiVersion` and `kind` (a `List` counts once). A
    document without them is most likely the values file given in place of the render, and
    a render of no object at all would pass the pack without anything having been judged.
    """
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as error:
        raise ReviewError(f"the render is not YAML: {error}") from error

    present = [(number, d) for number, d in enumerate(documents, start=1) if d is not None]
    strays = [f"document {number} ({_shape(d)})" for number, d in present if not _is_object(d)]
    if strays:
        raise ReviewError(
            "the render holds documents that are not Kubernetes objects (mappings with "
            f"apiVersion and kind): {', '.join(strays[:3])}{', …' if len(strays) > 3 else ''}; "
            "give `check` the output of `helm template`, not the values file"
        )
    if not present:
        raise ReviewError(
            "the render holds no Kubernetes object: give `check` the output of `helm template`"
        )
    return len(present)


def _is_object(document: object) -> bool:
    if not isinstance(document, dict):
        return False
    mapping = cast(dict[Any, Any], document)
    return all(isinstance(mapping.get(key), str) and mapping[key] for key in ("apiVersion", "kind"))


def _shape(document: object) -> str:
    """A document's outline for an error message: its top keys, or its type."""
    if isinstance(document, dict):
        keys = [str(key) for key in cast(dict[Any, Any], document)][:4]
        return f"keys {', '.join(keys)}" if keys else "an empty mapping"
    return f"a {type(document).__name__}"


def render_record(stack: str, project: str, text: str) -> ResourceRecord:
    """The render as one yaml ConfigGroup of the stack's project, as a program could declare it."""
    urn = f"urn:pulumi:{stack}::{project}::{CONFIG_GROUP}::chart-render"
    return ResourceRecord(
        urn=urn, type=CONFIG_GROUP, name="chart-render", custom=True, inputs={"yaml": [text]}
    )


def check_render(stack: str, text: str, root: Path = ROOT) -> list[Violation]:
    """What the pack, configured for `stack`, says of every object in the render."""
    project = load_stack_config(stack, root).project
    record = render_record(stack, project, text)
    config = load_policy_config(root / "policies" / "config" / f"{stack}.json")
    with PolicyPack(root / "policies", project=project, stack=stack) as pack:
        pack.configure(config)
        return pack.check([record])


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    errors = Console(stderr=True, highlight=False)
    try:
        if args.command == "values":
            release, values = release_values(args.stack, args.release)
            chart = release.inputs.get("chart")
            sys.stdout.write(
                f"# values of {release.name} ({chart} {release.inputs.get('version')})\n"
            )
            sys.stdout.write(values)
            return EXIT_OK
        text = sys.stdin.read() if args.render == "-" else Path(args.render).read_text()
        objects = render_objects(text)
        violations = check_render(args.stack, text)
    except (ReviewError, PolicyPackError, OSError) as error:
        # The message quotes the render: escaped, a `[...]` in it is shown, not read as a style.
        errors.print(f"[bold red]error:[/] {escape(str(error))}", soft_wrap=True, markup=True)
        return EXIT_ERROR

    return _report(Console(highlight=False, soft_wrap=True), objects, violations)


def _report(console: Console, objects: int, violations: list[Violation]) -> int:
    for violation in violations:
        console.print(
            f"{violation.enforcement} {violation.policy}: {violation.message}", markup=False
        )
    blocking = [v for v in violations if v.blocks]
    console.print(
        f"{objects} Kubernetes object(s) judged: {len(blocking)} mandatory, "
        f"{len(violations) - len(blocking)} other finding(s)",
        markup=False,
    )
    return EXIT_VIOLATIONS if blocking else EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.chart_review", description=(__doc__ or "").split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    values = commands.add_parser("values", help="print the values the program gives a release")
    values.add_argument("--stack", required=True, choices=("staging", "prod"))
    values.add_argument("--release", required=True, help="a part of the release's name")
    check = commands.add_parser("check", help="judge a `helm template` render with the pack")
    check.add_argument("--stack", required=True, choices=("staging", "prod"))
    check.add_argument("render", help="the render's file, or - for standard input")
    return parser


if __name__ == "__main__":
    sys.exit(main())
