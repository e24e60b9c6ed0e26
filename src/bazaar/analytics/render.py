"""Answers as readable terminal tables (rich): the `table` format of `bazaar ask`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.console import Console
from rich.table import Table

from bazaar.analytics.asking import Json
from bazaar.analytics.evidence import suspects_table, truth_table
from bazaar.analytics.formatting import format_value
from bazaar.analytics.questions import QUESTIONS


def record_table(title: str, record: Mapping[str, Json] | None) -> Table:
    table = Table(title=title, title_justify="left", show_header=False, min_width=len(title))
    table.add_column(style="bold")
    table.add_column(justify="right")
    if record is None:
        table.add_row("(no data)", "")
    else:
        for key, value in record.items():
            table.add_row(key, format_value(value))
    return table


def rows_table(title: str, found: Sequence[Mapping[str, Json]]) -> Table:
    table = Table(title=title, title_justify="left", min_width=len(title))
    columns = list(found[0]) if found else ["(no rows)"]
    for column in columns:
        table.add_column(column, justify="left" if column in ("name", "username") else "right")
    for row in found:
        table.add_row(*(format_value(row.get(c)) for c in columns))
    return table


def answer_tables(qid: str, answer: Json) -> list[Table]:
    title = f"{qid}: {QUESTIONS[qid].title}"
    if qid == "exploits":
        tables = [
            suspects_table(f"exploits / {name}", detector)
            for name, detector in answer.items()
            if isinstance(detector, Mapping) and "suspects" in detector
        ]
        tables.append(
            rows_table("exploits / conservation per item", answer["conservation"]["items"])
        )
        if "against_truth" in answer:
            tables.append(truth_table(answer["against_truth"]))
        return tables
    if qid == "economy" and isinstance(answer, Mapping):
        supply = dict(answer.get("money_supply") or {})
        over_time = supply.pop("over_time", [])
        escrow = dict(answer.get("escrow") or {}) or None
        escrow_over_time = escrow.pop("over_time", []) if escrow else []
        return [
            rows_table("economy / faucets and sinks (sinks negative)", answer["flows"]),
            record_table("economy / money supply (gold)", supply or None),
            rows_table("economy / gold supply over time", over_time),
            record_table("economy / offer funnel", answer.get("offer_funnel")),
            record_table("economy / escrow now (value = gold + items' value)", escrow),
            rows_table("economy / escrow over time", escrow_over_time),
        ]
    if isinstance(answer, list):
        return [rows_table(title, answer)]
    return [record_table(title, answer)]


def print_answers(console: Console, answers: Mapping[str, Json]) -> None:
    for qid, answer in answers.items():
        for table in answer_tables(qid, answer):
            console.print(table)
            console.print()
