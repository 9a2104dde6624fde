"""Prints an offline plan the way `pulumi preview` reads: a tree by parent, then the verdicts."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
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
    if not violations:
        return

    table = Table(show_lines=True, expand=True)
    table.add_column("level", no_wrap=True)
    table.add_column("policy", no_wrap=True)
    table.add_column("resource / message", overflow="fold")
    for v in sorted(violations, key=lambda v: (v.enforcement != "mandatory", v.policy, v.urn)):
        style = _LEVEL_STYLE.get(v.enforcement, "")
        table.add_row(f"[{style}]{v.enforcement}[/]", v.policy, f"{v.urn}\n{v.message}")
    console.print(table)
