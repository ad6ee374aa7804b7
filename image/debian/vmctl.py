#!/usr/bin/env python3
"""Talks to a running appliance VM for image/debian/smoke.sh, over QEMU's own sockets only.

    vmctl.py qga SOCK wait TIMEOUT         wait until the guest agent answers (the guest is up)
    vmctl.py qga SOCK exec TIMEOUT CMD     run `sh -c CMD` in the guest; print its output; exit with its code
    vmctl.py qga SOCK gone TIMEOUT         wait until the guest agent stops answering (reboot began)
    vmctl.py qmp SOCK CMD [JSON-ARGS]      run a QMP command on the VM (e.g. device_del '{"id":"modem1"}')

The guest agent (qemu-guest-agent in the image) speaks JSON over a virtio-serial port; QMP is QEMU's
monitor. Both are UNIX sockets in the test's temporary directory: nothing leaves the machine.
"""

from __future__ import annotations

import base64
import json
import socket
import sys
import time


class AgentError(Exception):
    """The guest agent or QMP answered with an error, or not at all."""


class Channel:
    """One JSON request/response connection to a QEMU UNIX socket."""

    def __init__(self, path: str, timeout: float) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def close(self) -> None:
        self.sock.close()

    def send(self, obj: dict) -> None:
        self.sock.sendall(json.dumps(obj).encode() + b"\n")

    def recv(self) -> dict:
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AgentError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        # The guest agent may prefix a sync answer with 0xff (guest-sync-delimited); skip it.
        return json.loads(line.strip(b"\xff").decode() or "{}")

    def call(self, execute: str, arguments: dict | None = None) -> object:
        req: dict = {"execute": execute}
        if arguments is not None:
            req["arguments"] = arguments
        self.send(req)
        while True:
            resp = self.recv()
            if "event" in resp:
                continue
            if "error" in resp:
                raise AgentError(f"{execute}: {resp['error']}")
            if "return" in resp:
                return resp["return"]


def qga_connect(path: str, timeout: float) -> Channel:
    """Opens the agent channel and resynchronises it (a previous client may have left a half line)."""
    ch = Channel(path, timeout)
    token = int(time.time() * 1000) % 2_000_000_000
    ch.send({"execute": "guest-sync", "arguments": {"id": token}})
    while True:
        resp = ch.recv()
        if resp.get("return") == token:
            return ch


def qga_ping(path: str) -> bool:
    try:
        ch = qga_connect(path, 3)
        ch.call("guest-ping")
        ch.close()
        return True
    except (OSError, AgentError, ValueError):
        return False


def qga_wait(path: str, timeout: float, want_up: bool) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if qga_ping(path) == want_up:
            return 0
        time.sleep(2)
    state = "answer" if want_up else "stop answering"
    print(f"vmctl: guest agent did not {state} within {timeout:.0f} s", file=sys.stderr)
    return 1


def qga_exec(path: str, timeout: float, cmd: str) -> int:
    ch = qga_connect(path, 10)
    started = ch.call("guest-exec", {"path": "/bin/sh", "arg": ["-c", cmd], "capture-output": True})
    pid = started["pid"]  # type: ignore[index]
    deadline = time.monotonic() + timeout
    while True:
        status = ch.call("guest-exec-status", {"pid": pid})
        if status.get("exited"):  # type: ignore[union-attr]
            break
        if time.monotonic() > deadline:
            ch.close()
            print(f"vmctl: guest command timed out after {timeout:.0f} s: {cmd}", file=sys.stderr)
            return 124
        time.sleep(0.5)
    ch.close()
    for key, stream in (("out-data", sys.stdout), ("err-data", sys.stderr)):
        data = status.get(key)  # type: ignore[union-attr]
        if data:
            stream.write(base64.b64decode(data).decode(errors="replace"))
    return int(status.get("exitcode", 1))  # type: ignore[union-attr]


def qmp(path: str, command: str, args: str | None) -> int:
    ch = Channel(path, 10)
    ch.recv()  # greeting
    ch.call("qmp_capabilities")
    result = ch.call(command, json.loads(args) if args else None)
    ch.close()
    print(json.dumps(result))
    return 0


def main(argv: list[str]) -> int:
    if len(argv) >= 3 and argv[0] == "qmp":
        return qmp(argv[1], argv[2], argv[3] if len(argv) > 3 else None)
    if len(argv) >= 4 and argv[0] == "qga":
        path, verb, timeout = argv[1], argv[2], float(argv[3])
        if verb == "wait":
            return qga_wait(path, timeout, True)
        if verb == "gone":
            return qga_wait(path, timeout, False)
        if verb == "exec" and len(argv) == 5:
            return qga_exec(path, timeout, argv[4])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (OSError, AgentError, ValueError, KeyError) as e:
        print(f"vmctl: {e}", file=sys.stderr)
        sys.exit(1)
