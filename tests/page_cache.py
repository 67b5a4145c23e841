"""How much of a file the kernel holds in its page cache (Linux), for tests of what an import leaves cached."""

from __future__ import annotations

import ctypes
import mmap
import os
import sys
from pathlib import Path

import pytest

_PROT_READ = 1
_MAP_SHARED = 1
_MAP_FAILED = ctypes.c_void_p(-1).value

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="page cache residency is Linux-only")


def cached_pages(path: Path) -> int:
    """The number of the file's pages in the page cache, from mincore(2)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    size = path.stat().st_size
    pages = -(-size // mmap.PAGESIZE)
    fd = os.open(path, os.O_RDONLY)
    try:
        address = libc.mmap(None, size, _PROT_READ, _MAP_SHARED, fd, 0)
        if address in (None, _MAP_FAILED):
            raise OSError(ctypes.get_errno(), "mmap failed", str(path))
        try:
            residency = (ctypes.c_ubyte * pages)()
            if libc.mincore(address, size, residency) != 0:
                raise OSError(ctypes.get_errno(), "mincore failed", str(path))
            return sum(page & 1 for page in residency)
        finally:
            libc.munmap(address, size)
    finally:
        os.close(fd)


def filesystem_type(path: Path) -> str:
    """The type of the filesystem `path` is on ("ext4", "tmpfs"...), from the longest matching mount point."""
    best, kind = "", ""
    resolved = str(path.resolve())
    for line in Path("/proc/self/mounts").read_text().splitlines():
        mount_point, fs_type = line.split()[1:3]
        if (resolved == mount_point or resolved.startswith(mount_point.rstrip("/") + "/")) and len(mount_point) > len(
            best
        ):
            best, kind = mount_point, fs_type
    return kind
