import socket
import urllib.request

import pytest

from conftest import NetworkBlockedError


def test_outside_connections_are_refused(monkeypatch):
    # The test command also points HTTP(S)_PROXY at a closed local port (for notebook
    # kernels); without it, the request must be stopped by the guard itself.
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(var, raising=False)
    # not urlopen's cached opener: it may hold the proxies
    opener = urllib.request.build_opener()
    with pytest.raises(NetworkBlockedError):
        opener.open("http://example.com", timeout=1)
    with pytest.raises(NetworkBlockedError):
        socket.create_connection(("93.184.216.34", 80), timeout=1)


def test_loopback_connections_still_work():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    # a connect that only pretends fails here, not by hanging
    server.settimeout(5)
    client = socket.socket()
    client.settimeout(5)
    client.connect(server.getsockname())  # the guard lets loopback through
    peer, _ = server.accept()
    client.sendall(b"ping")
    assert peer.recv(4) == b"ping", "no data came through the loopback connection"
    for s in (peer, client, server):
        s.close()
