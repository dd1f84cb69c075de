"""Run ctxvault on a real pseudo-terminal, answering its prompts.

Usage: pty_answer.py ANSWERS_JSON CTXVAULT_BIN ARGS...
ANSWERS_JSON is a list of [prompt, answer] pairs, answered in order: each
prompt is waited for (no sleeps) and answered once the program has turned
echo off. Prints everything the terminal showed and exits with ctxvault's
exit code.
"""
import json
import os
import pty
import sys
import termios

answers = json.loads(sys.argv[1])
binary, args = sys.argv[2], sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(binary, [binary] + args)

seen = b""
# Where the next prompt is looked for: after the last one answered.
pos = 0


def read_until(marker):
    global seen
    while marker not in seen[pos:]:
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            return False
        if not chunk:
            return False
        seen += chunk
    return True


def wait_echo_off():
    for _ in range(10_000_000):
        if not termios.tcgetattr(fd)[3] & termios.ECHO:
            return True
    return False


for prompt, answer in answers:
    if not (read_until(prompt.encode()) and wait_echo_off()):
        break
    pos = seen.index(prompt.encode(), pos) + len(prompt)
    os.write(fd, answer.encode() + b"\r")

while True:
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    seen += chunk
_, status = os.waitpid(pid, 0)
sys.stdout.write(seen.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
