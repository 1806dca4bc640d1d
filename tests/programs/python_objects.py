# Run by the system's python3 under memtrace: builds about 50 MiB of small objects, then prints
# CPython's own allocator statistics (sys._debugmallocstats, on stderr), which say how many
# pymalloc arenas it allocated and how large each is. The rows get one extra reference that is
# never dropped, so that they (and their arenas) survive the interpreter's finalization and are
# still mapped when the process exits.
import ctypes
import sys

rows = [(str(i), i * 1.5, [i]) for i in range(200000)]
ctypes.pythonapi.Py_IncRef(ctypes.py_object(rows))
sys._debugmallocstats()
print("rows", len(rows))
