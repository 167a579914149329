"""Every transition-table row, exercised by endpoint pairs on a fake link."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from core.tcp.states import TcpState, Trigger
from core.tcp.table import ROWS, Row
from tests.core.scenarios import SCENARIOS, RowHook


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__)
def test_scenario(scenario: Callable[[RowHook], None]) -> None:
    scenario(None)


def test_every_row_is_exercised() -> None:
    used: set[str] = set()

    def record(state: TcpState, trigger: Trigger, row: Row) -> None:
        used.add(row.key)

    for scenario in SCENARIOS:
        scenario(record)
    never = sorted(row.key for row in ROWS if row.key not in used)
    assert not never, f"{len(never)} rows never exercised: {never}"
