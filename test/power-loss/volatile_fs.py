#!/usr/bin/python3
"""A filesystem that forgets, at a power cut, everything that was never flushed.

    volatile_fs.py mount LIVE DURABLE MOUNTPOINT   serve LIVE at MOUNTPOINT (FUSE, foreground)
    volatile_fs.py materialize DURABLE OUT         rebuild in OUT what survived the cut

Programs under test see an ordinary filesystem (LIVE, passed through). Beside it, DURABLE keeps what a
disk would still hold after losing power, under the strict POSIX rule: a file's bytes survive only as
they were at its last fsync/fdatasync, and a directory's entries (creations, links, renames, unlinks)
only as they were at the last fsync of that directory. Killing this process with SIGKILL is the power
cut; `materialize` then shows the state a reboot would find. A writer that acknowledges an object,
record or policy version before both its data and its directory entry are flushed loses it here.

Not modelled: torn or reordered writes inside one flush interval (all unflushed writes are dropped),
file modes and times (not part of what the tests check).
"""

import errno
import json
import os
import sys

from fusepy import FUSE, FuseOSError, Operations


def atomic_write(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as out:
        out.write(data)
    os.replace(tmp, path)


class VolatileFs(Operations):
    def __init__(self, live, durable):
        self.live = os.path.realpath(live)
        self.durable = durable
        self.ids = {}  # live inode number -> our id, so a reused inode number is a new file
        self.next_id = 1
        for sub in ("files", "dirs"):
            os.makedirs(os.path.join(durable, sub), exist_ok=True)
        root = self.id_of(self.live)
        atomic_write(os.path.join(durable, "root"), str(root).encode())
        self.sync_tree(self.live)  # what exists at mount time is on disk already

    # -- identity and durability ------------------------------------------------------------------

    def path(self, path):
        return os.path.join(self.live, path.lstrip("/"))

    def id_of(self, live_path, fresh=False):
        ino = os.lstat(live_path).st_ino
        if fresh or ino not in self.ids:
            self.ids[ino] = self.next_id
            self.next_id += 1
        return self.ids[ino]

    def sync_file(self, live_path):
        with open(live_path, "rb") as source:
            data = source.read()
        atomic_write(os.path.join(self.durable, "files", str(self.id_of(live_path))), data)

    def sync_dir(self, live_path):
        entries = {}
        for name in os.listdir(live_path):
            child = os.path.join(live_path, name)
            st = os.lstat(child)
            if os.path.islink(child):
                entries[name] = {"kind": "link", "target": os.readlink(child)}
            else:
                kind = "dir" if os.path.isdir(child) else "file"
                entries[name] = {"kind": kind, "id": self.id_of(child), "mode": st.st_mode & 0o7777}
        data = json.dumps(entries).encode()
        atomic_write(os.path.join(self.durable, "dirs", str(self.id_of(live_path))), data)

    def sync_tree(self, live_path):
        self.sync_dir(live_path)
        for name in os.listdir(live_path):
            child = os.path.join(live_path, name)
            if os.path.islink(child):
                continue
            if os.path.isdir(child):
                self.sync_tree(child)
            else:
                self.sync_file(child)

    # -- passthrough ------------------------------------------------------------------------------

    def __call__(self, op, *args):
        try:
            return super().__call__(op, *args)
        except OSError as error:
            raise FuseOSError(error.errno or errno.EIO)

    def init(self, path):
        sys.stdout.write("mounted\n")
        sys.stdout.flush()

    def access(self, path, mode):
        if not os.access(self.path(path), mode):
            raise FuseOSError(errno.EACCES)

    def getattr(self, path, fh=None):
        st = os.lstat(self.path(path))
        keys = ("st_atime", "st_ctime", "st_gid", "st_mode", "st_mtime", "st_nlink", "st_size", "st_uid")
        return {key: getattr(st, key) for key in keys}

    def readdir(self, path, fh):
        return [".", ".."] + os.listdir(self.path(path))

    def readlink(self, path):
        return os.readlink(self.path(path))

    def statfs(self, path):
        st = os.statvfs(self.path(path))
        keys = ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree", "f_files", "f_flag",
                "f_frsize", "f_namemax")
        return {key: getattr(st, key) for key in keys}

    def chmod(self, path, mode):
        os.chmod(self.path(path), mode)

    def chown(self, path, uid, gid):
        os.lchown(self.path(path), uid, gid)

    def utimens(self, path, times=None):
        os.utime(self.path(path), times, follow_symlinks=False)

    def mkdir(self, path, mode):
        os.mkdir(self.path(path), mode)
        self.id_of(self.path(path), fresh=True)

    def rmdir(self, path):
        os.rmdir(self.path(path))

    def mknod(self, path, mode, dev):
        os.mknod(self.path(path), mode, dev)
        self.id_of(self.path(path), fresh=True)

    def create(self, path, mode, fi=None):
        fd = os.open(self.path(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        self.id_of(self.path(path), fresh=True)
        return fd

    def open(self, path, flags):
        return os.open(self.path(path), flags & ~(os.O_CREAT | os.O_EXCL))

    def read(self, path, size, offset, fh):
        return os.pread(fh, size, offset)

    def write(self, path, data, offset, fh):
        return os.pwrite(fh, data, offset)

    def truncate(self, path, length, fh=None):
        if fh is None:
            os.truncate(self.path(path), length)
        else:
            os.ftruncate(fh, length)

    def flush(self, path, fh):
        return 0  # close() is not a flush to disk

    def release(self, path, fh):
        os.close(fh)

    def fsync(self, path, datasync, fh):
        self.sync_file(self.path(path))

    def opendir(self, path):
        return 0

    def releasedir(self, path, fh):
        return 0

    def fsyncdir(self, path, datasync, fh):
        self.sync_dir(self.path(path))

    def unlink(self, path):
        os.unlink(self.path(path))

    def symlink(self, target, source):
        os.symlink(source, self.path(target))

    def link(self, target, source):
        os.link(self.path(source), self.path(target))

    def rename(self, old, new):
        os.rename(self.path(old), self.path(new))


def materialize(durable, out):
    """Rebuilds from DURABLE the tree a reboot would find, in OUT (which must not exist)."""
    with open(os.path.join(durable, "root")) as handle:
        root = int(handle.read())
    os.makedirs(out)

    def build(dir_id, target):
        listing = os.path.join(durable, "dirs", str(dir_id))
        if not os.path.exists(listing):
            return  # created, never flushed: empty after the cut
        with open(listing) as handle:
            entries = json.load(handle)
        for name, entry in entries.items():
            where = os.path.join(target, name)
            if entry["kind"] == "link":
                os.symlink(entry["target"], where)
            elif entry["kind"] == "dir":
                os.mkdir(where)
                build(entry["id"], where)
            else:
                data_file = os.path.join(durable, "files", str(entry["id"]))
                data = open(data_file, "rb").read() if os.path.exists(data_file) else b""
                with open(where, "wb") as handle:
                    handle.write(data)
                os.chmod(where, entry["mode"])

    build(root, out)


def main(argv):
    if len(argv) == 5 and argv[1] == "mount":
        FUSE(VolatileFs(argv[2], argv[3]), argv[4], foreground=True, nothreads=True)
    elif len(argv) == 4 and argv[1] == "materialize":
        materialize(argv[2], argv[3])
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv)
