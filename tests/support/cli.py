"""The CLI run in-process, and the shape of its one-line errors."""

from __future__ import annotations

from marketplace.cli import main


def zkmarket(capsys, *argv) -> tuple[int, str, str]:
    """Run the CLI in-process: exit status, stdout, stderr."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_error_line(code: int, err: str, *fragments: str) -> None:
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("zkmarket: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
