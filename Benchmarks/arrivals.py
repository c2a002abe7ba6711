"""When files appear in a directory, told by inotify rather than found by polling.

A load generator that polled for each output every 0.2 ms took a fifth of a core on this two-core machine,
from the daemons it measured; inotify wakes it only when a file arrives. Linux only (ctypes on libc)."""
import ctypes
import os
import struct
import threading
import time

IN_CLOSE_WRITE = 0x00000008
IN_MOVED_TO = 0x00000080
IN_Q_OVERFLOW = 0x00004000  # events were lost: a wait could only time out
IN_IGNORED = 0x00008000  # the watch is gone: the directory was removed
_libc = ctypes.CDLL("libc.so.6", use_errno=True)
_HEADER = struct.Struct("iIII")


class Arrivals:
    """The monotonic time at which each name first arrived (renamed in, or written and closed) in `directory`."""

    def __init__(self, directory, timeout=30.0):
        deadline = time.monotonic() + timeout
        while not os.path.isdir(directory):  # made by the daemon as it starts
            if time.monotonic() > deadline:
                raise RuntimeError(f"{directory} never appeared")
            time.sleep(0.05)
        self.fd = _libc.inotify_init1(os.O_CLOEXEC)
        if self.fd < 0 or _libc.inotify_add_watch(self.fd, os.fsencode(directory), IN_MOVED_TO | IN_CLOSE_WRITE) < 0:
            raise OSError(ctypes.get_errno(), "inotify")
        self.seen = {}
        self.overflowed = False
        self.changed = threading.Condition()
        # Files already there (a restart's leftovers) arrived before anything this run waits for.
        for name in os.listdir(directory):
            self.seen[name] = 0.0
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while True:
            data = os.read(self.fd, 65536)
            now = time.monotonic()
            offset = 0
            with self.changed:
                while offset < len(data):
                    _, mask, _, length = _HEADER.unpack_from(data, offset)
                    if mask & IN_IGNORED:
                        os.close(self.fd)  # closed here, by the only reader, so no read can meet a reused number
                        self.changed.notify_all()
                        return
                    if mask & IN_Q_OVERFLOW:
                        self.overflowed = True
                    name = data[offset + _HEADER.size: offset + _HEADER.size + length].rstrip(b"\0").decode(errors="replace")
                    offset += _HEADER.size + length
                    self.seen.setdefault(name, now)
                self.changed.notify_all()

    def wait(self, name, timeout=60.0):
        """The time `name` arrived; waits for it up to `timeout` seconds (then raises)."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while name not in self.seen:
                if self.overflowed:
                    raise RuntimeError("the inotify queue overflowed: arrival times were lost")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError(f"{name} did not arrive within {timeout:.0f} s")
                self.changed.wait(left)
            return self.seen[name]
