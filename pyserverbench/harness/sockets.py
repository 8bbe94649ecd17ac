"""Another process's established TCP connections, read straight from /proc.

psutil's `net_connections` decodes every line of the kernel's TCP tables, and a load
leaves thousands of TIME_WAIT lines there: about 20 ms per call here. This reads only
the lines in the ESTABLISHED state on one local port, which keeps the harness's own
CPU during the load small (see docs/methodology.md, "What the harness costs")."""

from __future__ import annotations

import os

_ESTABLISHED = "01"  # the kernel's state number in /proc/net/tcp


def _socket_inodes(pid: int) -> dict[int, int]:
    """inode -> file descriptor for every socket `pid` holds."""
    found = {}
    directory = f"/proc/{pid}/fd"
    for name in os.listdir(directory):
        try:
            target = os.readlink(f"{directory}/{name}")
        except OSError:  # closed since the listing
            continue
        if target.startswith("socket:["):
            found[int(target[8:-1])] = int(name)
    return found


def _table_inodes(pid: int, port: int) -> list[int]:
    """Inodes of the ESTABLISHED lines on local `port` in the tables pid sees."""
    suffix = f":{port:04X} "
    found = []
    for table in ("tcp", "tcp6"):
        with open(f"/proc/{pid}/net/{table}") as lines:
            next(lines)  # the header
            for line in lines:
                if suffix not in line or " 01 " not in line:  # cheap: most lines go here
                    continue
                # sl local remote state tx:rx tr:when retrnsmt uid timeout inode ...
                fields = line.split(None, 10)
                if fields[3] == _ESTABLISHED and fields[1].endswith(suffix.rstrip()):
                    found.append(int(fields[9]))
    return found


def established_many(pids: list[int], port: int) -> dict[int, list[tuple[int, int]]]:
    """pid -> (fd, inode) of each of its established TCP connections whose local port is
    `port` (IPv4 or IPv6). One read of the kernel's tables serves every pid (they share
    a network namespace); a gone process has none."""
    found: dict[int, list[tuple[int, int]]] = {pid: [] for pid in pids}
    owners: dict[int, tuple[int, int]] = {}  # inode -> (pid, fd)
    for pid in pids:
        try:
            owners.update({inode: (pid, fd) for inode, fd in _socket_inodes(pid).items()})
        except (FileNotFoundError, ProcessLookupError):
            continue
    if not owners:
        return found
    reader = next(iter(owners.values()))[0]
    try:
        inodes = _table_inodes(reader, port)
    except (FileNotFoundError, ProcessLookupError):
        return found
    for inode in inodes:
        if inode in owners:
            pid, fd = owners[inode]
            found[pid].append((fd, inode))
    return found


def established(pid: int, port: int) -> list[tuple[int, int]]:
    """(fd, inode) of each established TCP connection of `pid` on local `port`."""
    return established_many([pid], port)[pid]
