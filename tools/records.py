"""What the offline planner knows of one registered resource, in the engine's own terms.

Properties keep the engine's camelCase names and wire forms (secrets wrapped, unknowns as the
engine's sentinel), because the policy pack must judge exactly what the CLI would hand it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The engine's markers inside a property value (see the Pulumi SDK's rpc module).
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

STACK_TYPE = "pulumi:pulumi:Stack"
PROVIDER_PREFIX = "pulumi:providers:"


@dataclass(frozen=True)
class ResourceRecord:
    """One resource as the program registered it and the mocks answered it."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str | None = None
    provider: str | None = None
    id: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict[str, Any])
    outputs: dict[str, Any] = field(default_factory=dict[str, Any])
    dependencies: tuple[str, ...] = ()
    property_dependencies: dict[str, tuple[str, ...]] = field(
        default_factory=dict[str, tuple[str, ...]]
    )
    protect: bool = False
    custom_timeouts: dict[str, str] = field(default_factory=dict[str, str])

    @property
    def is_provider(self) -> bool:
        return self.type.startswith(PROVIDER_PREFIX)

    @property
    def provider_urn(self) -> str | None:
        """The provider reference is `<urn>::<id>`; the URN is everything before the id."""
        if not self.provider:
            return None
        return self.provider.rsplit("::", 1)[0]

    def to_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "provider": self.provider,
            "id": self.id,
            "protect": self.protect,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "dependencies": list(self.dependencies),
            "propertyDependencies": {k: list(v) for k, v in self.property_dependencies.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResourceRecord:
        return cls(
            urn=data["urn"],
            type=data["type"],
            name=data["name"],
            custom=data.get("id") is not None,
            parent=data.get("parent"),
            provider=data.get("provider"),
            id=data.get("id"),
            inputs=data.get("inputs", {}),
            outputs=data.get("outputs", {}),
            dependencies=tuple(data.get("dependencies", ())),
            property_dependencies={
                k: tuple(v) for k, v in data.get("propertyDependencies", {}).items()
            },
            protect=bool(data.get("protect", False)),
        )


@dataclass(frozen=True)
class Violation:
    """One diagnostic the pack reported, with the enforcement level the pack assigned."""

    policy: str
    enforcement: str
    urn: str
    message: str

    @property
    def blocks(self) -> bool:
        return self.enforcement == "mandatory"

    def to_json(self) -> dict[str, str]:
        return {
            "policy": self.policy,
            "enforcement": self.enforcement,
            "urn": self.urn,
            "message": self.message,
        }
