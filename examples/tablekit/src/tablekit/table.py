"""A table: named columns over rows of values."""

from __future__ import annotations


class Table:
    def __init__(self, headers: list[str], rows: list[list[object]] | None = None) -> None:
        self.headers = list(headers)
        self.rows: list[list[object]] = []
        for row in rows or []:
            self.add(row)

    def add(self, row: list[object]) -> None:
        if len(row) != len(self.headers):
            raise ValueError(f"row has {len(row)} values, the table has {len(self.headers)} columns")
        self.rows.append(list(row))

    def __len__(self) -> int:
        return len(self.rows)

    def column(self, name: str) -> list[object]:
        """The values of one column, top to bottom."""
        index = self.header.index(name)
        return [row[index] for row in self.rows]

    def render(self) -> str:
        """The table as aligned text, one line per row."""
        cells = [self.headers] + [[str(v) for v in row] for row in self.rows]
        widths = [max(len(str(r[k])) for r in cells) for k in range(len(self.headers))]
        return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells)
