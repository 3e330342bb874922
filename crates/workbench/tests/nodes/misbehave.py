#!/usr/bin/env python3
"""An echo node with one deliberate protocol fault, chosen by its argument:

  noise       prints a debug line that is not JSON on stdout after the 5th echo
  exit        exits with status 3 after the 5th echo (after a line on stderr)
  silent      never answers init
  bad-dest    sends one message to a node that does not exist
  text-reply  answers echoes with `in_reply_to` as a string
"""
import json
import sys

fault = sys.argv[1]
node_id = None
echoes = 0


def send(dest, body):
    print(json.dumps({"src": node_id, "dest": dest, "body": body}), flush=True)


for line in sys.stdin:
    msg = json.loads(line)
    body = msg["body"]
    if body["type"] == "init":
        if fault == "silent":
            continue
        node_id = body["node_id"]
        send(msg["src"], {"type": "init_ok", "in_reply_to": body["msg_id"]})
    elif body["type"] == "echo":
        echoes += 1
        if echoes == 5:
            if fault == "noise":
                print("got my fifth echo!", flush=True)
            elif fault == "exit":
                print("giving up after five echoes", file=sys.stderr, flush=True)
                sys.exit(3)
            elif fault == "bad-dest":
                send("n42", {"type": "gossip"})
        reply_to = str(body["msg_id"]) if fault == "text-reply" else body["msg_id"]
        send(msg["src"], {"type": "echo_ok", "echo": body["echo"], "in_reply_to": reply_to})
