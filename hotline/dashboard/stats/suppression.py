"""Small-cell suppression for the funders' report, with complementary suppression.

A count table is published with its row and column totals. Cells from 1 to 4 are hidden
(primary suppression). A single hidden cell in a row or column could be recovered by
subtracting the others from the total, so in every row and column of the table *with its
totals* there must be either no hidden value or at least two; the next-smallest non-zero value
of the line is hidden until that holds (complementary suppression). Zeros are shown: they
describe nobody.
"""

from __future__ import annotations

from dataclasses import dataclass

THRESHOLD = 5

Position = tuple[int, int]


@dataclass(frozen=True)
class SuppressedTable:
    """Values with totals: grid[r][c], the last row and column being totals; hidden[r][c]."""

    grid: list[list[int]]
    hidden: list[list[bool]]

    def shown(self, row: int, column: int) -> int | None:
        """The value to publish, or None when it is suppressed."""
        return None if self.hidden[row][column] else self.grid[row][column]


def with_totals(cells: list[list[int]]) -> list[list[int]]:
    """The table with a total column and a total row (the grand total in the corner)."""
    rows = [list(row) + [sum(row)] for row in cells]
    totals = [sum(column) for column in zip(*rows, strict=True)] if rows else [0]
    return rows + [totals]


def suppress(cells: list[list[int]], threshold: int = THRESHOLD) -> SuppressedTable:
    """Hide small cells and whatever would let anyone recompute them from the totals."""
    grid = with_totals(cells)
    height, width = len(grid), len(grid[0])
    hidden = [[0 < value < threshold for value in row] for row in grid]
    lines: list[list[Position]] = [[(r, c) for c in range(width)] for r in range(height)]
    lines += [[(r, c) for r in range(height)] for c in range(width)]
    changed = True
    while changed:
        changed = False
        for line in lines:
            secret = [p for p in line if hidden[p[0]][p[1]]]
            if len(secret) != 1:
                continue
            choice = _complement(grid, hidden, line, height, width)
            if choice is not None:
                hidden[choice[0]][choice[1]] = True
                changed = True
    return SuppressedTable(grid=grid, hidden=hidden)


def primary_only(cells: list[list[int]], threshold: int = THRESHOLD) -> SuppressedTable:
    """Hide cells from 1 to threshold - 1, for counts published without totals (distinct
    people do not add up, so no cell can be worked out from the others)."""
    grid = [list(row) for row in cells]
    return SuppressedTable(grid=grid, hidden=[[0 < v < threshold for v in row] for row in grid])


def _complement(
    grid: list[list[int]], hidden: list[list[bool]], line: list[Position], height: int, width: int
) -> Position | None:
    open_cells = [p for p in line if not hidden[p[0]][p[1]]]
    nonzero = [p for p in open_cells if grid[p[0]][p[1]] > 0]
    candidates = nonzero or open_cells
    if not candidates:
        return None

    def cost(p: Position) -> tuple[bool, int, Position]:
        # Inner cells before totals (totals are what funders read first), then the smallest.
        is_total = p[0] == height - 1 or p[1] == width - 1
        return (is_total, grid[p[0]][p[1]], p)

    return min(candidates, key=cost)


def recoverable(table: SuppressedTable) -> list[Position]:
    """Hidden positions that some row or column equation alone would reveal (for tests)."""
    height, width = len(table.grid), len(table.grid[0])
    lines = [[(r, c) for c in range(width)] for r in range(height)]
    lines += [[(r, c) for r in range(height)] for c in range(width)]
    found = []
    for line in lines:
        secret = [p for p in line if table.hidden[p[0]][p[1]]]
        if len(secret) == 1:
            found.append(secret[0])
    return found
