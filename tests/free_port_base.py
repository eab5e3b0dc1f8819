"""Prints a port base B (20000-28990, a multiple of 10) such that B + OFFSET is free for every
OFFSET given on the command line. Below the ephemeral range (32768 and up), so other tests'
outgoing connections cannot take the ports later. Usage: free_port_base.py OFFSET..."""
import random
import socket
import sys


def free(port):
    with socket.socket() as s:
        try:
            s.bind(("0.0.0.0", port))
            return True
        except OSError:
            return False


offsets = [int(a) for a in sys.argv[1:]] or [0]
while True:
    base = random.randrange(20000, 29000, 10)
    if all(free(base + o) for o in offsets):
        print(base)
        break
