#!/usr/bin/python3
"""A tiny syslog sink for the multi-server test stage: binds a unix datagram
socket (inside start.sh's mount namespace that is /dev/log, an overlay on the
namespace's own /dev: the machine's /dev is not touched) and appends every
message to a file. Cyrus logs only to syslog.
  syslog.py SOCKET LOGFILE"""
import os
import socket
import sys

sock_path, log_path = sys.argv[1], sys.argv[2]
try:
    os.unlink(sock_path)
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sock_path)
os.chmod(sock_path, 0o666)  # the daemons log after dropping root
with open(log_path, "ab", buffering=0) as out:
    while True:
        data = s.recv(65536)
        out.write(data.rstrip(b"\0\n") + b"\n")
