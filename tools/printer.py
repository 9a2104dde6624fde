"""Prints an offline plan the way `pulumi preview` reads: a tree by parent, then the verdicts."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from rich.console import Console
from rich.tree import Tree

from tools.offline import ProgramRun
from tools.records import STACK_TYPE, ResourceRecord, Violation

_LEVEL_STYLE = {"mandatory": "bold red", "advisory": "yellow", "remediate": "cyan"}


def print_plan(
    console: Console, run: ProgramRun, pack: str, violations: Sequence[Violation]
) -> None:
    console.print(_tree(run))
    console.print(_summary(run))
    console.print()
    _print_verdicts(console, pack, violations)


def _tree(run: ProgramRun) -> Tree:
    children: dict[str | None, list[ResourceRecord]] = defaultdict(list)
    for resource in run.resources:
        children[resource.parent].append(resource)

    root = Tree(f"[bold]+ {STACK_TYPE}[/] {run.project}-{run.stack}")
    stacks = [r for r in children[None] if r.type == STACK_TYPE]
    for top in stacks:
        _add_children(root, top.urn, children)
    return root


def _add_children(
    branch: Tree, parent: str, children: dict[str | None, list[ResourceRecord]]
) -> None:
    for resource in children.get(parent, []):
        marks = " [magenta](protected)[/]" if resource.protect else ""
        node = branch.add(f"[green]+[/] {resource.type} [bold]{resource.name}[/]{marks}")
        _add_children(node, resource.urn, children)


def _summary(run: ProgramRun) -> str:
    kinds = Counter("provider" if r.is_provider else "other" for r in run.resources)
    components = sum(1 for r in run.resources if r.type.startswith("matching:platform:"))
    return (
        f"Resources: {len(run.resources)} to create "
        f"({components} components, {kinds['provider']} default providers)"
    )


def _print_verdicts(console: Console, pack: str, violations: Sequence[Violation]) -> None:
    counts = Counter(v.enforcement for v in violations)
    console.print(
        f"[bold]Policies:[/] {pack}: {counts['mandatory']} mandatory, "
        f"{counts['advisory']} advisory violation(s)"
    )

    for v in sorted(violations, key=lambda v: (v.enforcement != "mandatory", v.policy, v.urn)):
        style = _LEVEL_STYLE.get(v.enforcement, "")
        console.print(
            f"  [{style}]{v.enforcement}[/] [bold]{v.policy}[/] {_short(v.urn)}",
            soft_wrap=True,
        )
        for line in v.message.splitlines():
            console.print(f"      {line}", markup=False, soft_wrap=True)


def _short(urn: str) -> str:
    """`<type> <name>` from a URN; the stack's own violations carry no URN."""
    if not urn:
        return "(stack)"
    qualified_type, name = urn.split("::")[-2:]
    return f"{qualified_type.rsplit('$', 1)[-1]} {name}"
