"""What a test expects of the pack's answer, and failure messages that name the resource."""

from __future__ import annotations

from collections.abc import Sequence

from tools.records import Violation


def policies(found: Sequence[Violation], enforcement: str = "mandatory") -> list[str]:
    """The names of the policies that reported at `enforcement`, sorted, repeats kept."""
    return sorted(v.policy for v in found if v.enforcement == enforcement)


def explain(subject: str, found: Sequence[Violation]) -> str:
    """A failure message naming the resource under test and everything the pack said."""
    said = "\n".join(f"  [{v.enforcement}] {v.policy} on {v.urn}: {v.message}" for v in found)
    return f"{subject}:\n{said or '  (no violations)'}"
