"""Storage failures under delta-rs, said in one line a user can act on.

delta-rs reports an I/O failure as a chain of causes, sometimes multi-line and coloured
("Generic LocalFileSystem error ↳ Unable to copy data to file ↳ No space left on device (os
error 28)"). What the user needs is the cause (the OS error), where, and what to do; and
that nothing is left half-done: a Delta commit is atomic and every table commit carries its
source positions (docs/LAKE.md, "Exactly once"), so a failed batch leaves each table at a
whole batch and the rerun lands exactly what each one lacks.
"""

from __future__ import annotations

import errno
import os
import re

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_OS_ERROR = re.compile(r"\(os error (\d+)\)")
# Causes that freeing space (or raising a limit) cures.
SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
_ADVICE = {errno.ENOSPC: "free space", errno.EDQUOT: "free space or raise the quota",
           errno.EFBIG: "raise the file-size limit (ulimit -f) or free space"}  # fmt: skip
INTACT = "nothing was half-written"


def os_errno(exc: BaseException) -> int | None:
    """The OS error number behind a delta-rs or Python I/O error, if there is one."""
    if isinstance(exc, OSError) and exc.errno is not None:
        return exc.errno
    found = _OS_ERROR.findall(str(exc))
    return int(found[-1]) if found else None


def one_line(text: str) -> str:
    return " ".join(_ANSI.sub("", text).replace("↳", " ").split())


def write_failure(exc: BaseException, where: str) -> str:
    """E.g. "lake write failed: no space left on device (/data/lake/trades): free space
    and rerun; nothing was half-written"."""
    number = os_errno(exc)
    if number is None:
        return f"lake write failed ({where}): {one_line(str(exc))}: fix it and rerun; {INTACT}"
    reason = os.strerror(number).lower()
    advice = _ADVICE.get(number, "fix the storage")
    return f"lake write failed: {reason} ({where}): {advice} and rerun; {INTACT}"
