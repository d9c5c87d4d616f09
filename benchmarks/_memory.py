"""Peak-memory helpers shared by the benchmarks (Linux ``/proc``).

The benchmarks run as scripts from this folder, so they import this module as
``from _memory import ...`` without touching ``sys.path``.
"""

from __future__ import annotations

import contextlib


def status_mb(field):
    """A memory field of ``/proc/self/status`` in MB: ``"VmRSS"`` now, ``"VmHWM"`` the peak
    (NaN where the file is missing)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def reset_peak_rss():
    """Reset ``VmHWM`` to the current RSS (Linux >= 4.0), so the next peak is the code's
    under measurement."""
    with contextlib.suppress(OSError):
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
