"""Every decision record has its four sections, and its title matches its file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tools.offline import ROOT

ADR_DIR = ROOT / "docs" / "adr"
SECTIONS = ["Context", "Decision", "Alternatives", "Consequences"]


def _adrs() -> list[Path]:
    return sorted(ADR_DIR.glob("[0-9][0-9][0-9][0-9]-*.md"))


def test_the_decisions_the_handover_promises_are_recorded() -> None:
    assert len(_adrs()) >= 7, [p.name for p in _adrs()]


@pytest.mark.parametrize("adr", _adrs(), ids=lambda p: p.name)
def test_adr_has_four_sections_in_order(adr: Path) -> None:
    text = adr.read_text()

    headings = re.findall(r"^## (.+)$", text, flags=re.MULTILINE)

    assert headings == SECTIONS, f"{adr.name}: sections {headings}"
    for section in re.split(r"^## .+$", text, flags=re.MULTILINE)[1:]:
        assert section.strip(), f"{adr.name}: an empty section"


@pytest.mark.parametrize("adr", _adrs(), ids=lambda p: p.name)
def test_adr_title_carries_its_number(adr: Path) -> None:
    title = adr.read_text().splitlines()[0]

    number = int(adr.name[:4])
    assert title.startswith(f"# {number}. "), f"{adr.name}: title {title!r}"
