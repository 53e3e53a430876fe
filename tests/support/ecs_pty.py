#!/usr/bin/env python3
"""Drive a command through a pseudo-terminal, answering its questions.

usage: ecs_pty.py STEPS.json [--columns N] -- COMMAND [ARGS...]

STEPS is a list of {"expect": REGEX, "send": TEXT}: wait (at most 20 s) until
the output since the previous match matches REGEX, then type TEXT and Enter.
TEXT "{pick:LABEL}" types the number of the menu line ("  N) ...") that
contains LABEL, in the output seen so far.

--columns N gives the terminal N columns (24 rows) before COMMAND starts;
without it the terminal has no size (0 x 0).

Prints {"status": exit code, "transcript": all output} as JSON on stdout and
exits 0 (or 3 when a step timed out: the transcript then shows where).
"""

import fcntl
import json
import os
import pty
import re
import select
import struct
import sys
import termios
import time

STEP_DEADLINE = 20.0


def main():
    steps = json.load(open(sys.argv[1]))
    dashes = sys.argv.index("--")
    cmd = sys.argv[dashes + 1:]
    opts = sys.argv[2:dashes]
    columns = int(opts[opts.index("--columns") + 1]) if "--columns" in opts else None
    pid, fd = pty.fork()
    if pid == 0:
        if columns:
            fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
        os.execvp(cmd[0], cmd)
    out = b""
    seen = 0  # output before this offset is matched already
    failed = None

    def read_some(timeout):
        nonlocal out
        r, _, _ = select.select([fd], [], [], timeout)
        if not r:
            return True
        try:
            data = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            return False
        if not data:
            return False
        out += data
        return True

    for step in steps:
        pat = re.compile(step["expect"])
        deadline = time.monotonic() + STEP_DEADLINE
        while True:
            text = out.decode("utf-8", "replace")
            m = pat.search(text, seen)
            if m:
                seen = m.end()
                break
            left = deadline - time.monotonic()
            if left <= 0 or not read_some(min(left, 0.5)):
                failed = step["expect"]
                break
        if failed:
            break
        send = step["send"]
        pick = re.fullmatch(r"\{pick:(.*)\}", send)
        if pick:
            label = pick.group(1)
            nums = re.findall(r"^\s+(\d+)\) (.*)$", text.replace("\r", ""), re.M)
            found = [n for n, line in nums if label in line]
            if not found:
                failed = f"no menu line with {label!r}"
                break
            send = found[-1]
        os.write(fd, (send + "\n").encode())

    if failed:
        os.kill(pid, 9)
    # Read to the end of the output; a child still running at the deadline
    # (waiting for an answer nobody gives) is killed.
    deadline = time.monotonic() + STEP_DEADLINE
    while read_some(0.5):
        if time.monotonic() > deadline:
            failed = failed or "the command did not finish"
            os.kill(pid, 9)
            break
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    json.dump({"status": code, "transcript": out.decode("utf-8", "replace"), "failed_step": failed},
              sys.stdout)
    sys.exit(3 if failed else 0)


if __name__ == "__main__":
    main()
