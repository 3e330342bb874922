#!/usr/bin/env python3
"""A Maelstrom echo node in plain Python: the workbench runs any language's node.

Optional argument: a file to write this process's pid into (the tests check that no node
process outlives the workbench)."""
import json
import os
import sys

if len(sys.argv) > 1:
    with open(sys.argv[1], "a") as f:
        f.write(f"{os.getpid()}\n")

node_id = None
for line in sys.stdin:
    msg = json.loads(line)
    body = msg["body"]
    reply = {"in_reply_to": body.get("msg_id")}
    if body["type"] == "init":
        node_id = body["node_id"]
        reply["type"] = "init_ok"
    elif body["type"] == "echo":
        reply.update(type="echo_ok", echo=body["echo"])
    else:
        continue
    print(json.dumps({"src": node_id, "dest": msg["src"], "body": reply}), flush=True)
