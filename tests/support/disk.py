"""A real full disk: ``small_disk`` mounts a tmpfs of ``SMALL_DISK`` under the test's
``tmp_path`` (root or CAP_SYS_ADMIN needed; skipped, saying why, where the mount is
refused) and unmounts it after. ``Disk.fill`` takes every free byte with a filler file,
``Disk.free`` deletes it."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["SMALL_DISK", "Disk", "small_disk"]

SMALL_DISK = "8m"


class Disk:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.filler = root / "filler"

    def fill(self) -> None:
        """Write the filler until the file system has not one byte left."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            chunk = 1 << 16
            while chunk:
                try:
                    os.write(fd, b"\0" * chunk)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    chunk //= 2
        finally:
            os.close(fd)

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Disk]:
    root = tmp_path / "small-disk"
    root.mkdir()
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SMALL_DISK}", "tmpfs", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mount.returncode != 0:
        pytest.skip(
            f"cannot mount a {SMALL_DISK} tmpfs for a full-disk test (needs root or "
            f"CAP_SYS_ADMIN): {mount.stderr.strip()}"
        )
    try:
        yield Disk(root)
    finally:
        subprocess.run(["umount", "-l", str(root)], check=True)
