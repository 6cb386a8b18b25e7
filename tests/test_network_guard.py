import socket
import urllib.request

import pytest

from conftest import NetworkBlockedError


def test_outside_connections_are_refused():
    with pytest.raises(NetworkBlockedError):
        urllib.request.urlopen("http://example.com", timeout=1)


def test_loopback_connections_still_work():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.socket()
    client.connect(server.getsockname())
    client.close()
    server.close()
