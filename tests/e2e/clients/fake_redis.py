#!/usr/bin/python3
"""fake_redis.py MODE PORTFILE: a Redis that answers every command badly, for the shim's limits.

MODE huge:    "$1099511627776" then 'a' bytes for as long as the client reads (a 1 TiB string)
     array:   "*2147483647" then nothing (an array of 2^31 elements)
     trickle: "+OK" for connection setup commands, then a 1 KiB bulk string one byte every 200 ms
The port is written to PORTFILE."""
import socket, sys, threading, time

mode, portfile = sys.argv[1], sys.argv[2]

def serve(c):
    c.settimeout(30)
    try:
        while True:
            data = c.recv(65536)
            if not data:
                return
            if mode == "huge":
                c.sendall(b"$1099511627776\r\n")
                chunk = b"a" * 65536
                end = time.time() + 10
                while time.time() < end:
                    c.sendall(chunk)
            elif mode == "array":
                c.sendall(b"*2147483647\r\n")
                time.sleep(10)
            else:
                c.sendall(b"$1024\r\n")
                for _ in range(1026):
                    c.sendall(b"a")
                    time.sleep(0.2)
    except OSError:
        pass
    finally:
        c.close()

s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(16)
open(portfile, "w").write(str(s.getsockname()[1]))
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
