#!/usr/bin/env python3
"""An echo node that attacks the workbench itself, in the way its first argument names. The
second argument, if given, is a file where it appends its pid (and any pid it starts).

  close-stdin   closes its stdin after the 5th echo and lives on (writes to it fail: EPIPE)
  orphan-exit   starts a child that holds its stdout, then exits 3 after the 5th echo
  linger        ignores SIGINT/SIGTERM/SIGHUP and end of input, and starts a detached
                (setsid) grandchild: only a kill of everything ends them
  unterminated  writes its 5th echo reply without a newline, then answers nothing more
  two-per-line  writes its 5th echo reply and another message on one line
  stray-reply   also sends a reply whose in_reply_to matches no request
  double-reply  answers the 5th echo twice
  deep          sends its peer a message nested 200 levels deep after the 5th echo
  long-line     writes a 17 MiB line after the 5th echo
  flood         after init, writes 40 1-MiB messages to each peer and reads nothing more
  flood-forever the same without end (for measuring the workbench's memory)
  flood-stderr  after init, writes to stderr forever without a newline
"""
import json
import os
import signal
import subprocess
import sys
import time

fault = sys.argv[1]
pids = sys.argv[2] if len(sys.argv) > 2 else None
node_id = None
peers = []
echoes = 0


def record(pid):
    if pids:
        with open(pids, "a") as f:
            f.write(f"{pid}\n")


def line_of(dest, body):
    return json.dumps({"src": node_id, "dest": dest, "body": body})


def send(dest, body):
    print(line_of(dest, body), flush=True)


def sleep_forever():
    while True:
        time.sleep(1000)


record(os.getpid())
if fault == "orphan-exit":
    subprocess.Popen(["sleep", "1000"], stdin=subprocess.DEVNULL)
if fault == "linger":
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, signal.SIG_IGN)
    child = subprocess.Popen(
        ["sleep", "1000"],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    record(child.pid)

for line in sys.stdin:
    msg = json.loads(line)
    body = msg["body"]
    if body["type"] == "init":
        node_id = body["node_id"]
        peers = [n for n in body["node_ids"] if n != node_id]
        send(msg["src"], {"type": "init_ok", "in_reply_to": body["msg_id"]})
        if fault in ("flood", "flood-forever"):
            pad = "x" * (1 << 20)
            sent = 0
            while fault == "flood-forever" or sent < 40:
                for peer in peers:
                    send(peer, {"type": "gossip", "pad": pad})
                sent += 1
            sleep_forever()
        if fault == "flood-stderr":
            chunk = "y" * (1 << 16)
            while True:
                sys.stderr.write(chunk)
        continue
    if body["type"] != "echo":
        continue
    echoes += 1
    reply = {"type": "echo_ok", "echo": body["echo"], "in_reply_to": body["msg_id"]}
    if echoes == 5:
        if fault == "close-stdin":
            send(msg["src"], reply)
            os.close(0)
            sleep_forever()
        if fault == "orphan-exit":
            print("giving up after five echoes", file=sys.stderr, flush=True)
            sys.exit(3)
        if fault == "unterminated":
            sys.stdout.write(line_of(msg["src"], reply))
            sys.stdout.flush()
            for _ in sys.stdin:
                pass
            sleep_forever()
        if fault == "two-per-line":
            other = {"type": "gossip"}
            print(line_of(msg["src"], reply) + line_of(peers[0], other), flush=True)
            continue
        if fault == "stray-reply":
            send(msg["src"], dict(reply, in_reply_to=999999))
        if fault == "double-reply":
            send(msg["src"], reply)
        if fault == "deep":
            send(peers[0], {"type": "gossip", "deep": json.loads("[" * 200 + "]" * 200)})
        if fault == "long-line":
            send(peers[0], {"type": "gossip", "pad": "z" * (17 << 20)})
    send(msg["src"], reply)

if fault == "linger":
    sleep_forever()
