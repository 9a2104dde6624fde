"""Runs the Pulumi program under the SDK's mock monitor and records what it registers.

The stack's configuration is read from `Pulumi.yaml` and `Pulumi.<stack>.yaml` as the CLI
reads it, and handed to the program through the same runtime calls the language host uses.
The recorder keeps every registration request as the engine would receive it: URN, type,
parent, provider, inputs under their camelCase names, dependencies and property dependencies.
Resources that name no provider get the default provider the engine would create for them,
configured from the stack's `<package>:*` keys, so that policies see the region they run in.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import runpy
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pulumi
from google.protobuf import json_format
from pulumi.runtime.mocks import MockEngine, MockMonitor, MockSettings
from pulumi.runtime.settings import configure
from pulumi.runtime.stack import run_in_stack
from ruamel.yaml import YAML, YAMLError

from tools.mocks import Account, OfflineGapError, PlatformMocks
from tools.records import (
    PROVIDER_PREFIX,
    RESOURCE_SIG,
    SIG_KEY,
    STACK_TYPE,
    ResourceRecord,
)

ROOT = Path(__file__).resolve().parent.parent
_MOCK_ACCOUNT = "123456789012"


class StackFileError(Exception):
    """A project or stack file is missing or not what the CLI would accept."""


class ProgramError(Exception):
    """The program failed while it ran under the mocks."""


@dataclass(frozen=True)
class StackConfig:
    project: str
    stack: str
    values: dict[str, Any]

    def encoded(self) -> dict[str, str]:
        """Values as the CLI hands them to a program: strings raw, everything else as JSON."""
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in self.values.items()}

    def account(self) -> Account:
        """The account and region the mocks answer for.

        `aws:allowedAccountIds` names the account. Anything odd here is left for the program's
        settings to reject with the key named; the mocks only need something to answer with.
        """
        allowed = self.values.get("aws:allowedAccountIds")
        account = _MOCK_ACCOUNT
        if isinstance(allowed, list) and allowed and isinstance(allowed[0], str):
            account = cast(list[str], allowed)[0]
        region = self.values.get("aws:region")
        return Account(account_id=account, region=region if isinstance(region, str) else "")


@dataclass
class ProgramRun:
    """Everything one run of the program registered, in registration order."""

    project: str
    stack: str
    resources: list[ResourceRecord] = field(default_factory=list[ResourceRecord])
    stack_outputs: dict[str, Any] = field(default_factory=dict[str, Any])


def load_stack_config(stack: str, root: Path = ROOT) -> StackConfig:
    _refuse_other_project_files(root)
    project_file = _read_yaml(root / "Pulumi.yaml")
    project = project_file.get("name")
    if not isinstance(project, str):
        raise StackFileError("Pulumi.yaml: `name` is required")
    _refuse_moved_program(project_file)
    stack_path = root / f"Pulumi.{stack}.yaml"
    if not stack_path.exists():
        known = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in root.glob("Pulumi.*.yaml"))
        raise StackFileError(
            f"{stack_path.name} not found: the stacks here are {', '.join(known) or 'none'}"
        )
    stack_file = _read_yaml(stack_path)
    _refuse_unreadable_keys(stack_file, stack_path.name)

    values: dict[str, Any] = {}
    project_config = _section(project_file, "config", "Pulumi.yaml")
    for key, spec in _qualified(project, project_config, "Pulumi.yaml").items():
        if isinstance(spec, dict) and "default" in spec:
            values[key] = cast(dict[str, Any], spec)["default"]
    stack_config = _section(stack_file, "config", stack_path.name)
    for key, value in _qualified(project, stack_config, stack_path.name).items():
        _refuse_secrets(stack_path.name, key, value)
        values[key] = value
    return StackConfig(project=project, stack=stack, values=values)


def _refuse_other_project_files(root: Path) -> None:
    """The CLI looks for Pulumi.json before Pulumi.yaml: one beside it would be the project
    `pulumi up` runs, with stack files of its own extension, while the offline plan judged
    Pulumi.yaml's."""
    if (root / "Pulumi.json").exists():
        raise StackFileError(
            "Pulumi.json: the CLI reads it instead of Pulumi.yaml, so the offline plan would "
            "judge another project: keep Pulumi.yaml as the only project file"
        )


# Project keys that move what `pulumi up` runs or reads away from where the offline plan looks:
# the program's directory, and the stack files' directory.
MOVING_KEYS = {"main": "the program", "stackConfigDir": "the stack files"}


def _refuse_moved_program(project_file: dict[str, Any]) -> None:
    """The offline plan runs `./__main__.py` with `./Pulumi.<stack>.yaml`, as the project must."""
    runtime: object = project_file.get("runtime")
    name = cast(dict[str, Any], runtime).get("name") if isinstance(runtime, dict) else runtime
    if name != "python":
        raise StackFileError(f"Pulumi.yaml: runtime {name!r} is not python, the only one run here")
    for key, what in MOVING_KEYS.items():
        value = project_file.get(key)
        if value is not None and Path(str(value)) != Path():
            raise StackFileError(
                f"Pulumi.yaml: `{key}: {value}` makes `pulumi up` read {what} from {value}, while "
                "the offline plan reads them from the project root: keep them there"
            )


# The top-level keys the CLI reads from a stack file, besides `environment` (below).
STACK_FILE_KEYS = ("config", "secretsprovider", "encryptionsalt", "encryptedkey")


def _refuse_unreadable_keys(document: dict[str, Any], file_name: str) -> None:
    """Top-level keys that would make the offline plan judge other config than `pulumi up`.

    `environment` imports Pulumi ESC environments, whose values the CLI merges into the config;
    they live in Pulumi Cloud, out of an offline plan's reach. Any other key is one the CLI
    does not know, most likely a misplaced or misspelt `config`.
    """
    if "environment" in document:
        raise StackFileError(
            f"{file_name}: `environment` imports Pulumi ESC environments, whose values `pulumi up` "
            "would merge into the config; the offline plan cannot read ESC environments, so it "
            "would judge other settings: write the values under `config` instead"
        )
    unknown = sorted(str(key) for key in document if key not in STACK_FILE_KEYS)
    if unknown:
        raise StackFileError(
            f"{file_name}: unknown top-level key {', '.join(unknown)}: a stack file holds only "
            f"{', '.join(STACK_FILE_KEYS)}; settings go under `config`"
        )


def _read_yaml(path: Path) -> dict[str, Any]:
    """A project or stack file, read as the CLI reads it: YAML 1.2, duplicate keys an error.

    Under YAML 1.1 `NO` (Norway) and `yes` would turn into booleans; the CLI keeps them as
    strings, and so must the offline plan, or it would judge a different stack.
    """
    reader = YAML(typ="safe", pure=True)
    try:
        load = reader.load  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        data: object = load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StackFileError(f"{path.name} not found in {path.parent}") from None
    except UnicodeDecodeError as error:
        raise StackFileError(f"{path.name} is not UTF-8 text: {error.reason}") from None
    except YAMLError as error:
        raise StackFileError(f"{path.name} is not valid YAML: {_one_line(error)}") from None
    if not isinstance(data, dict):
        raise StackFileError(f"{path.name} must hold a YAML mapping")
    return cast(dict[str, Any], data)


def _section(document: dict[str, Any], key: str, file_name: str) -> dict[str, Any]:
    value = document.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise StackFileError(f"{file_name}: `{key}` must be a mapping of keys to values")
    return cast(dict[str, Any], value)


def _refuse_secrets(file_name: str, path: str, value: object) -> None:
    """Encrypted values, anywhere in a value: the offline plan has no key to read them."""
    if isinstance(value, dict):
        mapping = cast(dict[str, Any], value)
        if "secure" in mapping:
            raise StackFileError(
                f"{file_name}: {path} is encrypted; the offline plan holds no secrets"
            )
        for key, item in mapping.items():
            _refuse_secrets(file_name, f"{path}.{key}", item)
    elif isinstance(value, list):
        for index, item in enumerate(cast(list[Any], value)):
            _refuse_secrets(file_name, f"{path}[{index}]", item)


def _one_line(error: YAMLError) -> str:
    return " ".join(str(error).split())


def _qualified(project: str, section: dict[str, Any], file_name: str) -> dict[str, Any]:
    """A file's config under the keys the CLI parses them to, each key spelt once.

    `edge`, `matching-platform:edge` and `matching-platform:config:edge` are one key to the CLI.
    YAML sees three, so a file holding two of them would have the offline plan keep one and
    the CLI perhaps the other: that is an error, as a duplicate key is.
    """
    values: dict[str, Any] = {}
    spelt: dict[str, str] = {}
    for written, value in section.items():
        key = _qualify(project, written, file_name)
        if key in spelt:
            raise StackFileError(
                f"{file_name}: config keys `{spelt[key]}` and `{written}` are the same key {key} "
                f"(an unqualified key is in the project's namespace, {project}): keep one"
            )
        spelt[key] = written
        values[key] = value
    return values


def _qualify(project: str, key: object, file_name: str) -> str:
    """A config key as the CLI parses it.

    `<namespace>:<name>` stays as written, the old form `<namespace>:config:<name>` loses its
    `config`, and a bare `<name>` is in the project's namespace.
    """
    if not isinstance(key, str):
        raise StackFileError(f"{file_name}: config key {key!r} is not a string")
    parts = key.split(":")
    if len(parts) == 1:
        return f"{project}:{key}"
    if len(parts) == 2:
        return key
    if len(parts) == 3 and parts[1] == "config":
        return f"{parts[0]}:{parts[2]}"
    raise StackFileError(
        f"{file_name}: config key {key} is not one the CLI can parse: "
        "`<namespace>:<name>` or `<name>`"
    )


class RecordingMonitor(MockMonitor):
    """The SDK's mock monitor, keeping each registration as the engine would see it."""

    def __init__(self, mocks: PlatformMocks, config: StackConfig):
        super().__init__(mocks)
        self.run = ProgramRun(project=config.project, stack=config.stack)
        self._config = config
        self._default_providers: dict[str, str] = {}

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)  # pyright: ignore[reportUnknownMemberType]
        provider = request.provider or self._default_provider(request)
        self.run.resources.append(
            ResourceRecord(
                urn=response.urn,
                type=request.type,
                name=request.name,
                custom=bool(request.custom),
                parent=request.parent or None,
                provider=provider or None,
                id=(response.id or None) if request.custom else None,
                inputs=_plain(request.object),
                outputs=_plain(response.object) if request.custom or request.remote else {},
                dependencies=tuple(request.dependencies),
                property_dependencies={
                    key: tuple(deps.urns) for key, deps in request.propertyDependencies.items()
                },
                protect=bool(request.protect),
                custom_timeouts=_timeouts(request),
            )
        )
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        if request.urn.endswith(f"::{STACK_TYPE}::{self.run.project}-{self.run.stack}"):
            self.run.stack_outputs = _plain(request.outputs)
        return super().RegisterResourceOutputs(request)  # pyright: ignore[reportUnknownMemberType]

    def _default_provider(self, request: Any) -> str:
        """The engine gives a resource without a provider the package's default provider."""
        if request.type == STACK_TYPE or request.type.startswith(PROVIDER_PREFIX):
            return ""
        if not request.custom and not request.remote:
            return ""
        package = request.type.split(":", 1)[0]
        key = f"{package}@{request.version}"
        if key not in self._default_providers:
            self._default_providers[key] = self._register_default(package, request.version)
        return self._default_providers[key]

    def _register_default(self, package: str, version: str) -> str:
        name = "default_" + version.replace(".", "_") if version else "default"
        token = f"{PROVIDER_PREFIX}{package}"
        urn = f"urn:pulumi:{self.run.stack}::{self.run.project}::{token}::{name}"
        inputs = {
            key.split(":", 1)[1]: value
            for key, value in self._config.values.items()
            if key.startswith(f"{package}:")
        }
        if version:
            inputs["version"] = version
        provider_id = f"{name}-00000000-0000-4000-8000-000000000000"
        self.run.resources.append(
            ResourceRecord(
                urn=urn,
                type=token,
                name=name,
                custom=True,
                id=provider_id,
                inputs=inputs,
                outputs=inputs,
            )
        )
        return f"{urn}::{provider_id}"


def _timeouts(request: Any) -> dict[str, str]:
    if not request.HasField("customTimeouts"):
        return {}
    timeouts = request.customTimeouts
    found = {"create": timeouts.create, "update": timeouts.update, "delete": timeouts.delete}
    return {key: value for key, value in found.items() if value}


def _plain(struct: Any) -> dict[str, Any]:
    """A protobuf Struct as JSON-ready values, resource references replaced as the engine does."""
    return _unwrap(json_format.MessageToDict(struct))


def _unwrap(value: Any) -> Any:
    if isinstance(value, dict):
        mapping = cast(Mapping[str, Any], value)
        if mapping.get(SIG_KEY) == RESOURCE_SIG:
            return mapping.get("id") or mapping["urn"]
        return {key: _unwrap(item) for key, item in mapping.items()}
    if isinstance(value, list):
        return [_unwrap(item) for item in value]  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class _ErrorLog(logging.Handler):
    """Collects what the program logs at error level: under mocks that is how it fails."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def run_program(stack: str, root: Path = ROOT, *, preview: bool = False) -> ProgramRun:
    """Run `<root>/__main__.py` for `stack` under the mocks, in a context of its own.

    With `preview`, the run is a first `pulumi preview`: nothing exists yet, so every output
    that AWS would compute is unknown, and so is every input built from one.
    """
    config = load_stack_config(stack, root)
    return contextvars.Context().run(_run_isolated, config, lambda: _run_main(root), preview)


def run_callable(body: Callable[[], object], stack: str, root: Path = ROOT) -> ProgramRun:
    """Run `body` as if it were the program of `stack`: for tests of a single component."""
    config = load_stack_config(stack, root)
    return contextvars.Context().run(_run_isolated, config, body, False)


def _run_isolated(config: StackConfig, body: Callable[[], object], preview: bool) -> ProgramRun:
    errors = _ErrorLog()
    logger = logging.getLogger(f"offline.{config.stack}")
    logger.addHandler(errors)
    mocks = PlatformMocks(config.account(), preview=preview)
    monitor = RecordingMonitor(mocks, config)

    pulumi.runtime.set_all_config(config.encoded())
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        configure(
            MockSettings(
                monitor=monitor,
                monitor_features=_features(monitor),
                engine=MockEngine(logger),
                project=config.project,
                stack=config.stack,
                dry_run=preview,
                organization="organization",
                callbacks=None,
            )
        )
        loop.run_until_complete(run_in_stack(lambda: _discard(body())))
    except OfflineGapError as gap:
        raise ProgramError(f"the offline plan cannot answer a lookup: {gap}") from None
    finally:
        _close(loop)
        logger.removeHandler(errors)

    if errors.messages:
        raise ProgramError("\n".join(errors.messages))
    return monitor.run


def _features(monitor: MockMonitor) -> set[int]:
    info = monitor.GetDeploymentInfo(None)  # pyright: ignore[reportUnknownMemberType]
    return set(info.supportedFeatures)


def _discard(_: object) -> None:
    """`run_in_stack` awaits what the program returns; a program's own value means nothing."""


def _run_main(root: Path) -> None:
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    runpy.run_path(str(root / "__main__.py"), run_name="__main__")


def _close(loop: asyncio.AbstractEventLoop) -> None:
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.close()
    asyncio.set_event_loop(None)
