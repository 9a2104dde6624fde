"""Safe reads of the property mappings the engine hands a policy.

Properties arrive as read-only proxies: every read of a value that is not known yet (a preview
of a resource whose input comes from one not yet created) raises `UnknownValueError`, and the
SDK turns an escaping one into a single advisory note for the whole policy. A stack policy that
let the first unknown escape would hide every definite violation after it, so `Verdicts` reports
what is known first and lets the unknowns escape, all named, only at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ParamSpec, cast

from pulumi_policy import PolicyResource, ReportViolation
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

P = ParamSpec("P")


def get(value: object, *path: str) -> Any:
    """The value at `path` below `value`; None where a step is absent or not an object.

    Raises `UnknownValueError` when a step is unknown, so that a preview never passes silently.
    """
    current: Any = value
    for key in path:
        if not isinstance(current, Mapping):
            return None
        mapping = cast(Mapping[str, Any], current)
        if key not in mapping:
            return None
        current = mapping[key]
    return current


def items(value: object) -> list[Any]:
    """The elements of a list property (reading each one); [] when it is absent or not a list."""
    if isinstance(value, str) or not isinstance(value, Sequence):
        return []
    return list(cast(Sequence[Any], value))


def texts(value: object) -> list[str]:
    """The string elements of a list property; a lone string counts as a list of one."""
    if isinstance(value, str):
        return [value]
    return [item for item in items(value) if isinstance(item, str)]


def number(value: object) -> int | None:
    """A port or count: the wire carries every number as a double."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def known_text(value: object, *path: str) -> str | None:
    """A non-empty string at `path`, or None when it is absent, empty, or not known yet."""
    try:
        found = get(value, *path)
    except UnknownValueError:
        return None
    return found if isinstance(found, str) and found else None


def known_elements(value: object) -> tuple[list[str], int, UnknownValueError | None]:
    """The known strings of a list already read, how many elements are unknown, and the first.

    A preview knows some elements of a list and not others (an id from a resource not created
    yet); the known ones can still be judged. A lone string is not a list.
    """
    listed = not isinstance(value, str) and isinstance(value, Sequence)
    sequence = cast(Sequence[object], value) if listed else ()
    known: list[str] = []
    unknown = 0
    pending: UnknownValueError | None = None
    for index in range(len(sequence)):
        try:
            element = sequence[index]
        except UnknownValueError as error:
            unknown, pending = unknown + 1, pending or error
            continue
        if isinstance(element, str):
            known.append(element)
    return known, unknown, pending


def known_texts(props: object, key: str) -> tuple[list[str], UnknownValueError | None]:
    """The known strings of a list property, and the first unknown met (the list or an element)."""
    try:
        value = get(props, key)
    except UnknownValueError as error:
        return [], error

    found, _, pending = known_elements(value)
    return found, pending


def dependencies(resource: PolicyResource, key: str, token: str) -> list[PolicyResource]:
    """The resources of type `token` that the engine says the property `key` was built from."""
    return [r for r in resource.property_dependencies.get(key, []) if r.resource_type == token]


def linked(resource: PolicyResource, key: str, token: str) -> set[str]:
    """The URNs of the resources of type `token` that `key` was built from."""
    return {r.urn for r in dependencies(resource, key, token)}


def label(resource: PolicyResource) -> str:
    """How messages name a resource: its cloud id when the stack view carries one, and its URN."""
    cloud_id = known_text(resource.props, "id")
    return f"{cloud_id or repr(resource.name)} ({resource.urn})"


class Verdicts:
    """Reports definite violations at once and holds back unknown values until `close`."""

    def __init__(self, report: ReportViolation) -> None:
        self._report = report
        self._unknown: list[str] = []

    def violation(self, message: str, urn: str | None = None) -> None:
        self._report(message, urn)

    def judge(self, urn: str, check: Callable[P, None], *args: P.args, **kwargs: P.kwargs) -> None:
        """Run one resource's check; an unknown value defers to `close` instead of ending all."""
        try:
            check(*args, **kwargs)
        except UnknownValueError as error:
            self._unknown.append(f"{error.message} (on {urn})")

    def unknown(self, note: str) -> None:
        self._unknown.append(note)

    def close(self) -> None:
        """Let the held-back unknowns escape, so the SDK reports them as one advisory note."""
        if not self._unknown:
            return

        error = UnknownValueError(UNKNOWN_STRING_VALUE, [])
        error.message = "; ".join(self._unknown)
        raise error
