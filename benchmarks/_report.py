"""The parts every benchmark's results section shares: the command line that produced it,
and appending the section to its results file (the file's title first when it is new)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path


def command_line(argv=None):
    """``Command: `python <script> <arguments>`  `` (a Markdown line break at the end) of
    ``argv`` (default ``sys.argv``), each argument shell-quoted so the line reruns as is."""
    argv = sys.argv if argv is None else argv
    return "Command: `python " + " ".join(shlex.quote(a) for a in argv) + "`  "


def append_section(out, title, text):
    """Append ``text`` to the Markdown file ``out``, preceded by ``# title`` and a blank
    line when the file does not exist yet; ``text`` ends with one newline. Returns
    ``out`` as a Path."""
    out = Path(out)
    header = ""
    if not out.exists():
        header = f"# {title}\n" + ("" if text.startswith("\n") else "\n")
    with out.open("a") as f:
        f.write(header + text.rstrip("\n") + "\n")
    return out
