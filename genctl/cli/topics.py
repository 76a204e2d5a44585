"""`genctl help TOPIC`: reference pages a script author needs at the prompt (like `gh help exit-codes`)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from genctl.cli.output import out
from genctl.errors import CODES, EXIT_MEANINGS, WARNINGS

SIGNALS = "128 + the signal's number (129: SIGHUP, 141: SIGPIPE, 143: SIGTERM); Ctrl-C is 130"

help_app = typer.Typer(
    help="""Reference topics: `genctl help exit-codes`.

    Examples:

        genctl help exit-codes
    """,
    no_args_is_help=True,
    rich_markup_mode=None,
)


def exit_table() -> list[dict[str, Any]]:
    """Each exit code, what it means, and the diagnosis codes that end with it."""
    return [
        {
            "exit": code,
            "meaning": meaning,
            "codes": [name for name, (exit_code, _) in CODES.items() if exit_code == code],
        }
        for code, meaning in EXIT_MEANINGS.items()
    ]


@help_app.command("exit-codes")
def exit_codes(
    json_: Annotated[bool, typer.Option("--json", help="The table as one JSON document.")] = False,
) -> None:
    """Every exit code genctl ends with, and the diagnosis codes under each (the README's table).

    Examples:

        genctl help exit-codes

        genctl help exit-codes --json | jq '.exit_codes[] | select(.exit == 3)'
    """
    out.configure(json_mode=json_)
    rows = exit_table()
    if json_:
        out.json(
            {
                "ok": True,
                "exit_codes": rows,
                "signals": SIGNALS,
                "codes": {
                    name: {"exit": code, "meaning": meaning} for name, (code, meaning) in CODES.items()
                },
                "warnings": dict(WARNINGS),
            }
        )
        return
    out.table(
        ["exit", "meaning", "diagnosis codes"],
        [[str(row["exit"]), row["meaning"], ", ".join(row["codes"])] for row in rows],
        keep=(0, 2),
    )
    out.info(f"A signal ends genctl with {SIGNALS}.")
    out.info(f"Only warnings, never an exit code: {', '.join(WARNINGS)}.")
