"""The scaling simulator's report: a table of figures per model, and a plot over time."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table

from tools.sim_engine import Result


@dataclass(frozen=True)
class Figures:
    """One run reduced to the numbers the report shows, in seconds unless named otherwise."""

    first_added_ready: float | None
    all_max_ready: float | None
    wait_p50: float
    wait_p95: float
    wait_p99: float
    still_waiting: int
    interrupted: int
    redelivered: int
    lost: int
    dead_lettered: int
    drained_after: float | None
    worker_minutes: float
    peak_ready: int


def figures(result: Result) -> Figures:
    # Unfinished runs have no drain time: the last completion would flatter them.
    drained = result.drained_at if result.unfinished == 0 else None
    return Figures(
        first_added_ready=result.first_scaled_ready,
        all_max_ready=result.all_max_ready,
        wait_p50=percentile(result.waits, 50),
        wait_p95=percentile(result.waits, 95),
        wait_p99=percentile(result.waits, 99),
        still_waiting=result.unreceived,
        interrupted=result.interrupted,
        redelivered=result.redelivered,
        lost=result.lost,
        dead_lettered=result.dead_lettered,
        drained_after=drained,
        worker_minutes=result.worker_seconds / 60,
        peak_ready=result.peak_ready,
    )


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of sorted values; 0 for none."""
    if not values:
        return 0.0
    rank = max(math.ceil(q / 100 * len(values)), 1)
    return values[rank - 1]


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def table(title: str, columns: dict[str, Figures], max_replicas: int) -> Table:
    out = Table(title=title)
    out.add_column("figure")
    for name in columns:
        out.add_column(name, justify="right")

    for label, cell in _rows(max_replicas):
        out.add_row(label, *(cell(f) for f in columns.values()))
    return out


def _rows(max_replicas: int) -> list[tuple[str, Callable[[Figures], str]]]:
    def wait(value: float, f: Figures) -> str:
        # A message still queued at the end only gives a lower bound on its wait.
        return ("≥ " if f.still_waiting else "") + duration(value)

    return [
        ("first added worker ready", lambda f: duration(f.first_added_ready)),
        (f"all {max_replicas} workers ready", lambda f: duration(f.all_max_ready)),
        ("queue wait p50", lambda f: wait(f.wait_p50, f)),
        ("queue wait p95", lambda f: wait(f.wait_p95, f)),
        ("queue wait p99", lambda f: wait(f.wait_p99, f)),
        ("interrupted by scale-down", lambda f: str(f.interrupted)),
        ("redelivered after kill", lambda f: str(f.redelivered)),
        ("lost", lambda f: str(f.lost)),
        ("dead-lettered", lambda f: str(f.dead_lettered)),
        ("still waiting at the end", lambda f: str(f.still_waiting)),
        ("last message matched after", lambda f: duration(f.drained_after)),
        ("worker-minutes", lambda f: f"{f.worker_minutes:,.0f}"),
        ("peak ready workers", lambda f: str(f.peak_ready)),
    ]


def plot(path: Path, title: str, runs: dict[str, Result]) -> None:
    """Replicas and queue depth over time for each run, as a PNG."""
    import matplotlib  # noqa: PLC0415 - only `--plot` needs it, and it is a dev dependency

    matplotlib.use("Agg")  # no display on CI or servers
    import matplotlib.pyplot as plt  # noqa: PLC0415

    figure, (replicas, depth) = plt.subplots(2, 1, sharex=True, figsize=(10, 6))
    hours = max(s.t for r in runs.values() for s in r.samples) > 4 * 3600
    scale, unit = (3600, "h") if hours else (60, "min")

    for index, (name, result) in enumerate(runs.items()):
        t = [s.t / scale for s in result.samples]
        ready = [s.ready for s in result.samples]
        visible = [s.visible for s in result.samples]
        in_flight = [s.in_flight for s in result.samples]
        style = {"where": "post", "color": f"C{index}"}
        replicas.step(t, ready, label=f"{name}: ready", **style)
        depth.step(t, visible, label=f"{name}: visible", **style)
        depth.step(t, in_flight, linestyle=":", label=f"{name}: in flight", **style)

    replicas.set_ylabel("ready workers")
    replicas.legend(loc="upper right")
    depth.set_ylabel("messages")
    depth.set_xlabel(f"time since first arrival ({unit})")
    depth.legend(loc="upper right")
    replicas.set_title(title)
    figure.tight_layout()

    path.parent.mkdir(parents=True, exist_ok=True)
    # matplotlib types `**kwargs` of savefig as unknown; the call itself is fully typed.
    figure.savefig(path, dpi=110)  # pyright: ignore[reportUnknownMemberType]
    plt.close(figure)
