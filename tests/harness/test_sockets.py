import os
import socket

import pytest

from pyserverbench.harness.sockets import established


def test_only_established_connections_on_the_port_are_listed():
    with socket.create_server(("127.0.0.1", 0)) as listener, \
            socket.create_server(("127.0.0.1", 0)) as other:
        port = listener.getsockname()[1]
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        accepted = [listener.accept()[0] for _ in range(2)]  # the third waits in the backlog
        elsewhere = socket.create_connection(("127.0.0.1", other.getsockname()[1]))
        elsewhere_accepted = other.accept()[0]
        try:
            found = established(os.getpid(), port)
            assert sorted(fd for fd, _ in found) == sorted(s.fileno() for s in accepted)
            assert {inode for _, inode in found} == {os.fstat(s.fileno()).st_ino
                                                     for s in accepted}
        finally:
            for s in [*clients, *accepted, elsewhere, elsewhere_accepted]:
                s.close()
        assert established(os.getpid(), port) == []


def test_ipv6_connections_count_too():
    try:
        listener = socket.create_server(("::1", 0), family=socket.AF_INET6)
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    with listener:
        port = listener.getsockname()[1]
        with socket.create_connection(("::1", port)), listener.accept()[0] as accepted:
            assert established(os.getpid(), port) == [
                (accepted.fileno(), os.fstat(accepted.fileno()).st_ino)]


def test_a_gone_process_has_no_connections():
    assert established(2**22 + 12345, 80) == []


def test_a_gone_process_among_others_does_not_hide_theirs():
    from pyserverbench.harness.sockets import established_many

    gone, me = 2**22 + 12345, os.getpid()
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)), listener.accept()[0] as accepted:
            assert established_many([gone, me], port) == {
                gone: [], me: [(accepted.fileno(), os.fstat(accepted.fileno()).st_ino)]}
