"""Workload "python3": an allocation-heavy script of dicts, lists, strings, tuples and sets.

Run by the system interpreter twice: with its own small-object allocator (pymalloc, the
default), which asks malloc only for 256 KiB arenas and large objects, and with
PYTHONMALLOC=malloc, which sends every object to malloc. Fixed work for a given SIZE and ROUNDS.

usage: python3 alloc_heavy.py SIZE ROUNDS
"""

import sys


def build_records(size):
    records = {}
    for i in range(size):
        key = f"user{i:07d}"
        records[key] = {
            "id": i,
            "name": key.upper(),
            "tags": [key[-3:], str(i * 7), "even" if i % 2 == 0 else "odd"],
            "score": (i * 37) % 1000 / 10.0,
        }
    return records


def summarise(records):
    rows = [",".join((key, rec["name"], str(rec["id"]), *rec["tags"]))
            for key, rec in records.items()]
    parsed = [tuple(row.split(",")) for row in rows]
    by_suffix = {}
    for fields in parsed:
        by_suffix.setdefault(fields[3], []).append(fields[0])
    words = " ".join(rows[: len(rows) // 4]).replace(",", " ").split()
    counts = {}
    for word in words:
        stem = word[:5]
        counts[stem] = counts.get(stem, 0) + 1
    distinct = {fields[4] for fields in parsed if len(fields[4]) % 3 == 0}
    return sum(len(v) for v in by_suffix.values()) + len(counts) + len(distinct)


def churn(records):
    # delete half, replace with fresh objects, as long-running services do
    keys = list(records)
    for key in keys[::2]:
        del records[key]
    for key in keys[::2]:
        records[key + "x"] = [key] * 3
    return len(records)


def main():
    size = int(sys.argv[1])
    rounds = int(sys.argv[2])
    total = 0
    for _ in range(rounds):
        records = build_records(size)
        total += summarise(records)
        total += churn(records)
    print("python checksum", total)


if __name__ == "__main__":
    main()
