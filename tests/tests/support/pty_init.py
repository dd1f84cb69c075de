"""Drive `ctxvault init` through a real pseudo-terminal, expect-style.

Usage: pty_init.py CTXVAULT_BIN PASSPHRASE CONFIRMATION
Waits for each prompt before answering (no sleeps), then prints everything
the terminal showed, and exits with ctxvault's exit code.
"""
import os
import pty
import sys
import termios

binary, first, second = sys.argv[1], sys.argv[2], sys.argv[3]
pid, fd = pty.fork()
if pid == 0:
    os.execv(binary, [binary, "init"])

seen = b""


def read_until(marker):
    global seen
    while marker not in seen:
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            return False
        if not chunk:
            return False
        seen += chunk
    return True


def wait_echo_off():
    """Wait until the program has turned echo off (the master shares the
    terminal's settings), so typed text can never be shown."""
    for _ in range(10_000_000):
        if not termios.tcgetattr(fd)[3] & termios.ECHO:
            return True
    return False


def drain():
    global seen
    while True:
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            return
        if not chunk:
            return
        seen += chunk


if read_until(b"Passphrase: ") and wait_echo_off():
    os.write(fd, first.encode() + b"\r")
    if read_until(b"Passphrase again: ") and wait_echo_off():
        os.write(fd, second.encode() + b"\r")
drain()
_, status = os.waitpid(pid, 0)
sys.stdout.write(seen.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
