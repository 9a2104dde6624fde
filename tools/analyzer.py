"""Runs a CrossGuard policy pack the way the Pulumi CLI does, and talks to it over gRPC.

The CLI starts a Python pack as `python -u -m pulumi.policy <engine> <pack dir>` in the pack's
directory, reads the port the pack prints on its first line, then calls `GetAnalyzerInfo`,
`Configure`, `Analyze` once per resource and `AnalyzeStack` once for the whole stack. This
module does the same, so that what passes here passes under `pulumi up --policy-pack`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self, cast

import grpc
import jsonschema
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from tools.records import ResourceRecord, Violation

_ENFORCEMENT = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.DISABLED: "disabled",
    analyzer_pb2.REMEDIATE: "remediate",
}
_ENFORCEMENT_BY_NAME = {name: level for level, name in _ENFORCEMENT.items()}

# The pack never needs an engine here: it logs nothing, and a dead address makes any attempt
# fail loudly instead of silently succeeding.
_NO_ENGINE = "127.0.0.1:1"
_START_TIMEOUT_SECONDS = 60


class _AnalyzerCalls(Protocol):
    """The calls of the generated `AnalyzerStub`, which carries no type information."""

    def GetAnalyzerInfo(  # noqa: N802
        self, request: empty_pb2.Empty
    ) -> analyzer_pb2.AnalyzerInfo: ...

    def Configure(  # noqa: N802
        self, request: analyzer_pb2.ConfigureAnalyzerRequest
    ) -> empty_pb2.Empty: ...

    def Analyze(  # noqa: N802
        self, request: analyzer_pb2.AnalyzeRequest
    ) -> analyzer_pb2.AnalyzeResponse: ...

    def AnalyzeStack(  # noqa: N802
        self, request: analyzer_pb2.AnalyzeStackRequest
    ) -> analyzer_pb2.AnalyzeResponse: ...


class PolicyPackError(Exception):
    """The pack could not be started, configured, or answered a call with an error."""


class PolicyPack:
    """A running policy pack process; use it as a context manager so the process always ends."""

    def __init__(self, pack_dir: Path, *, project: str, stack: str, dry_run: bool = False):
        self._pack_dir = pack_dir.resolve()
        self._env = {
            **os.environ,
            "PULUMI_PROJECT": project,
            "PULUMI_STACK": stack,
            "PULUMI_DRY_RUN": "true" if dry_run else "false",
        }
        self._process: subprocess.Popen[bytes] | None = None
        self._channel: grpc.Channel | None = None
        self._stub: _AnalyzerCalls | None = None

    def __enter__(self) -> Self:
        self._process = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi.policy", _NO_ENGINE, str(self._pack_dir)],
            cwd=self._pack_dir,
            env=self._env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        port = self._read_port(self._process)
        self._channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(self._channel).result(timeout=_START_TIMEOUT_SECONDS)
        self._stub = cast(_AnalyzerCalls, analyzer_pb2_grpc.AnalyzerStub(self._channel))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._channel is not None:
            self._channel.close()
        if self._process is not None:
            self._process.terminate()
            self._process.communicate(timeout=_START_TIMEOUT_SECONDS)

    def _read_port(self, process: subprocess.Popen[bytes]) -> int:
        assert process.stdout is not None
        line = process.stdout.readline().decode().strip()
        if line.isdigit():
            return int(line)
        process.kill()
        _, stderr = process.communicate(timeout=_START_TIMEOUT_SECONDS)
        raise PolicyPackError(
            f"policy pack in {self._pack_dir} did not start: {stderr.decode().strip() or line}"
        )

    @property
    def stub(self) -> _AnalyzerCalls:
        if self._stub is None:
            raise PolicyPackError("the policy pack is not running: use it in a `with` block")
        return self._stub

    def info(self) -> analyzer_pb2.AnalyzerInfo:
        return self.stub.GetAnalyzerInfo(empty_pb2.Empty())

    def configure(self, config: Mapping[str, Any]) -> None:
        """Send a `--policy-pack-config` document, validated as the CLI validates it."""
        policies = {policy.name: policy for policy in self.info().policies}
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for name, policy in policies.items():
            entry = _normalise_entry(name, config.get(name))
            level = entry.pop("enforcementLevel", None) or _ENFORCEMENT[policy.enforcementLevel]
            if level not in _ENFORCEMENT_BY_NAME:
                raise PolicyPackError(
                    f"{name}: enforcementLevel {level!r} is not one of "
                    f"{', '.join(sorted(_ENFORCEMENT_BY_NAME))}"
                )
            _validate_properties(name, policy, entry)
            target = request.policyConfig[name]
            target.enforcementLevel = _ENFORCEMENT_BY_NAME[level]
            target.properties.update(entry)
        unknown = sorted(set(config) - set(policies))
        if unknown:
            raise PolicyPackError(f"policy config names unknown policies: {', '.join(unknown)}")
        self.stub.Configure(request)

    def analyze(
        self, resource: ResourceRecord, provider: ResourceRecord | None = None
    ) -> list[Violation]:
        request = analyzer_pb2.AnalyzeRequest(
            type=resource.type,
            properties=_struct(resource.inputs),
            urn=resource.urn,
            name=resource.name,
            options=_options(resource),
        )
        if provider is not None:
            request.provider.CopyFrom(_provider(provider))
        response = self.stub.Analyze(request)
        return _violations(response, default_urn=resource.urn)

    def analyze_stack(
        self, resources: Sequence[ResourceRecord], providers: Mapping[str, ResourceRecord]
    ) -> list[Violation]:
        request = analyzer_pb2.AnalyzeStackRequest()
        for resource in resources:
            # The engine runs AnalyzeStack on the final state: outputs, or inputs where a
            # resource has none (components).
            entry = request.resources.add(
                type=resource.type,
                properties=_struct(resource.outputs or resource.inputs),
                urn=resource.urn,
                name=resource.name,
                options=_options(resource),
                parent=resource.parent or "",
                dependencies=list(resource.dependencies),
            )
            for key, urns in resource.property_dependencies.items():
                entry.propertyDependencies[key].urns.extend(urns)
            provider = providers.get(resource.provider_urn or "")
            if provider is not None:
                entry.provider.CopyFrom(_provider(provider))
        return _violations(self.stub.AnalyzeStack(request), default_urn="")

    def check(self, resources: Sequence[ResourceRecord]) -> list[Violation]:
        """Every resource through `Analyze`, then the stack through `AnalyzeStack`."""
        providers = {r.urn: r for r in resources if r.is_provider}
        found: list[Violation] = []
        for resource in resources:
            found.extend(self.analyze(resource, providers.get(resource.provider_urn or "")))
        found.extend(self.analyze_stack(resources, providers))
        return found


def load_policy_config(path: Path) -> dict[str, Any]:
    """Read a `--policy-pack-config` JSON file."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise PolicyPackError(f"{path}: not a readable policy config: {error}") from error
    if not isinstance(data, dict):
        raise PolicyPackError(f"{path}: a policy config is a JSON object keyed by policy name")
    return cast(dict[str, Any], data)


def _normalise_entry(name: str, entry: object) -> dict[str, Any]:
    if entry is None:
        return {}
    if isinstance(entry, str):
        return {"enforcementLevel": entry}
    if isinstance(entry, dict):
        return dict(cast(dict[str, Any], entry))
    raise PolicyPackError(f"{name}: config must be an enforcement level or an object")


def _validate_properties(name: str, policy: analyzer_pb2.PolicyInfo, entry: dict[str, Any]) -> None:
    schema = {
        "type": "object",
        "properties": json_format.MessageToDict(policy.configSchema.properties),
        "required": list(policy.configSchema.required),
        "additionalProperties": False,
    }
    try:
        jsonschema.validate(entry, schema)
    except jsonschema.ValidationError as error:
        raise PolicyPackError(f"{name}: invalid config: {error.message}") from error


def _struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(values)
    return struct


def _options(resource: ResourceRecord) -> analyzer_pb2.AnalyzerResourceOptions:
    options = analyzer_pb2.AnalyzerResourceOptions(
        protect=resource.protect, parent=resource.parent or ""
    )
    if resource.custom_timeouts:
        options.customTimeouts.CopyFrom(
            analyzer_pb2.AnalyzerResourceOptions.CustomTimeouts(
                create=_seconds(resource.custom_timeouts.get("create", "")),
                update=_seconds(resource.custom_timeouts.get("update", "")),
                delete=_seconds(resource.custom_timeouts.get("delete", "")),
            )
        )
    return options


def _seconds(duration: str) -> float:
    """Go-style durations as the SDK sends them ("30m", "1h", "90s") to seconds."""
    if not duration:
        return 0.0
    units = {"h": 3600.0, "m": 60.0, "s": 1.0}
    return float(duration[:-1]) * units[duration[-1]]


def _provider(provider: ResourceRecord) -> analyzer_pb2.AnalyzerProviderResource:
    return analyzer_pb2.AnalyzerProviderResource(
        type=provider.type,
        properties=_struct(provider.inputs),
        urn=provider.urn,
        name=provider.name,
    )


def _violations(response: analyzer_pb2.AnalyzeResponse, default_urn: str) -> list[Violation]:
    return [
        Violation(
            policy=d.policyName,
            enforcement=_ENFORCEMENT.get(d.enforcementLevel, "advisory"),
            urn=d.urn or default_urn,
            message=d.message,
        )
        for d in response.diagnostics
    ]


def blocking(violations: Iterable[Violation]) -> list[Violation]:
    return [v for v in violations if v.blocks]
