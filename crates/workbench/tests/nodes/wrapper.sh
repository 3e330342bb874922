#!/bin/sh
# Starts the Python echo node without `exec`, beside a background process that inherits the
# pipes: a node that leaves descendants behind. The workbench must still end, and end them all.
sleep 1000 &
python3 "$(dirname "$0")/echo.py" "$@"
