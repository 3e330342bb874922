#!/usr/bin/env python3
"""An echo node in plain Python that speaks the lockstep protocol (docs/lockstep.md): proof that
`glomers sim --bin` is not tied to glomers-node. Each echo is answered by a timer 5 ms of
virtual time later, so both `!deliver` and `!advance` matter.

Optional argument: `crash-after N`, to exit with status 3 after N steps."""
import json
import os
import sys

assert os.environ.get("GLOMERS_LOCKSTEP") == "1", "run me with glomers sim --bin"
crash_after = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[1] == "crash-after" else None

node_id = None
timers = []  # (deadline, reply envelope), in deadline order
out = sys.stdout


def handle(line, now):
    global node_id
    msg = json.loads(line)
    body = msg["body"]
    reply = {"in_reply_to": body.get("msg_id")}
    if body["type"] == "init":
        node_id = body["node_id"]
        reply["type"] = "init_ok"
        out.write(json.dumps({"src": node_id, "dest": msg["src"], "body": reply}) + "\n")
    elif body["type"] == "echo":
        reply.update(type="echo_ok", echo=body["echo"])
        envelope = {"src": node_id, "dest": msg["src"], "body": reply}
        timers.append((now + 5_000_000, envelope))
        timers.sort(key=lambda t: t[0])


print("!lockstep 1", flush=True)
steps = 0
for line in sys.stdin:
    command, _, time = line.strip().partition(" ")
    if command == "!deliver":
        handle(sys.stdin.readline(), int(time))
    elif command == "!advance":
        while timers and timers[0][0] <= int(time):
            out.write(json.dumps(timers.pop(0)[1]) + "\n")
    out.write(f"!idle {timers[0][0]}\n" if timers else "!idle none\n")
    out.flush()
    steps += 1
    if crash_after is not None and steps >= crash_after:
        print("crashing on purpose", file=sys.stderr, flush=True)
        sys.exit(3)
