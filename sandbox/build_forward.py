"""Inside an environment build's sandbox (standard library only): the build's one way out.

``python3 -I -S build_forward.py SOCKET PORT -- COMMAND...`` listens on the sandbox's own
127.0.0.1:PORT (its network namespace has nothing else), relays every connection to SOCKET (the
host's index proxy, sandbox/index_proxy.py, which reaches the package index only), runs COMMAND
with that as its proxy, and exits with COMMAND's exit code.
"""

import contextlib
import os
import socket
import subprocess
import sys
import threading


def _pipe(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


def _serve(listener, path):
    while True:
        client, _ = listener.accept()
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.connect(path)
        except OSError:
            client.close()
            continue
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=_pipe, args=(a, b), daemon=True).start()


def main():
    path, port, sep, *command = sys.argv[1:]
    assert sep == "--" and command
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", int(port)))
    listener.listen(64)
    threading.Thread(target=_serve, args=(listener, path), daemon=True).start()
    sys.exit(subprocess.call(command, env=os.environ))


if __name__ == "__main__":
    main()
