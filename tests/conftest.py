"""Test-session set-up: no network, the smoke profile, no downloads.

Sockets to anything but this machine are refused for the whole session, so a hidden
download (torchvision's, d2l's) fails loudly instead of passing on a machine with
internet. Notebooks executed by nbval run in their own kernel process; the test command
(Makefile) points the kernel's HTTP(S) proxy at a closed local port for the same reason.
"""

from __future__ import annotations

import ipaddress
import os
import socket

import pytest

os.environ.setdefault("RESNET_COURSE_PROFILE", "smoke")
os.environ["RESNET_COURSE_NO_DOWNLOAD"] = "1"

_real_connect = socket.socket.connect
_real_getaddrinfo = socket.getaddrinfo


class NetworkBlockedError(RuntimeError):
    pass


def _is_local(host) -> bool:
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(
        address[0]
    ):
        raise NetworkBlockedError(
            f"tests may not use the network (tried to connect to {address})"
        )
    return _real_connect(self, address)


def _guarded_getaddrinfo(host, *args, **kwargs):
    if not _is_local(host):
        raise NetworkBlockedError(
            f"tests may not use the network (tried to resolve {host!r})"
        )
    return _real_getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _guarded_connect
socket.getaddrinfo = _guarded_getaddrinfo


@pytest.fixture
def fashion_dir():
    """The folder that holds the real Fashion-MNIST files (Debian's package or
    $FASHION_MNIST_DIR)."""
    from resnet_course.data import find_fashion_mnist

    return find_fashion_mnist(download=False)
