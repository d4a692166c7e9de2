"""Collects figures and prints them as one table, ratios and targets beside them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Row:
    section: str
    figure: str
    value: str
    ratio: str = ""
    target: str = ""
    met: bool | None = None


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    values: dict[str, float] = field(default_factory=dict)

    def add(self, section: str, figure: str, value: str, ratio: str = "", target: str = "",
            met: bool | None = None) -> None:
        self.rows.append(Row(section, figure, value, ratio, target, met))
        mark = "" if met is None else ("  [met]" if met else "  [MISSED]")
        print(f"  {section:<10} {figure:<46} {value:>16} {ratio:>10} {target}{mark}", flush=True)

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"# {text}", flush=True)

    def print(self) -> None:
        headers = ("section", "figure", "value", "ratio", "target", "")
        table = [headers] + [(r.section, r.figure, r.value, r.ratio, r.target,
                              "" if r.met is None else ("met" if r.met else "MISSED")) for r in self.rows]
        widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
        print()
        for index, row in enumerate(table):
            print("| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) + " |")
            if index == 0:
                print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        for text in self.notes:
            print(f"- {text}")
