# Run by the system's python3 under memtrace: builds about 30 MiB of small objects that stay
# alive until exit, then prints CPython's own allocator statistics (sys._debugmallocstats, on
# stderr), which say how many pymalloc arenas it allocated and how large each is.
import sys

rows = [(str(i), i * 1.5, [i]) for i in range(200000)]
sys._debugmallocstats()
print("rows", len(rows))
