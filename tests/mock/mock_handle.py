"""What the handles of the mock servers share (the objects a test starts
a mock with, in tests/mock/*_server.py): the handle's directory, and its
removal when the test is done with it.  Standard library only."""
import atexit
import shutil
import sys
import tempfile


def handle_dir(prefix):
    """A handle's directory: the test's sbtest.tempdir() if it uses
    tests/lib/sbtest.py (removed at exit unless the test failed), else one
    removed at exit.  cleanup() and a `with` that ends without an error
    remove it at once."""
    sb = sys.modules.get("sbtest")
    if sb is not None and hasattr(sb, "tempdir"):
        return sb.tempdir(prefix)
    d = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, d, True)
    return d


class DirHandle:
    """cleanup() and the end of a `with` for a handle that has stop(),
    err (its child's stderr file, or None) and, in the attribute DIR_ATTR
    names, the directory handle_dir() gave it."""
    DIR_ATTR = "dir"

    def _close(self):
        self.stop()
        if self.err:
            self.err.close()

    def cleanup(self):
        """Stop the server and remove its directory."""
        self._close()
        shutil.rmtree(getattr(self, self.DIR_ATTR), ignore_errors=True)

    def __exit__(self, *exc):
        if exc[0] is None:
            self.cleanup()
        else:  # kept, for a look at what the server did
            self._close()
