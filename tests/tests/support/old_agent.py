"""A stand-in for an agent of an older ctxvault that knows neither /hello
nor /stop (as protocol 5 and before): it holds the vault's agent lock with
its pid, listens on the agent's socket and answers 404 to everything, until
SIGTERM.

Usage: old_agent.py SOCKET LOCK_FILE  (prints `ready` once listening)
"""
import fcntl
import os
import socket
import sys

sock_path, lock_path = sys.argv[1:3]
lock = open(lock_path, "a+")
fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
lock.truncate(0)
lock.write(f"{os.getpid()}\n")
lock.flush()
try:
    os.unlink(sock_path)
except FileNotFoundError:
    pass
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(sock_path)
os.chmod(sock_path, 0o600)
srv.listen(16)
print("ready", flush=True)
while True:
    conn, _ = srv.accept()
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    conn.sendall(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
    conn.close()
