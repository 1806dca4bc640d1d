#!/usr/bin/env python3
"""Writes a C++ source file defining kDefaultSuppressions as the text of a file (build step)."""
import sys

source, output = sys.argv[1], sys.argv[2]
with open(source, encoding="utf-8") as f:
    text = f.read()
if ')supp"' in text:
    sys.exit(f"{source} contains the raw-string delimiter )supp\"")
with open(output, "w", encoding="utf-8") as f:
    f.write("// Generated from default.supp by embed_text.py; do not edit.\n")
    f.write('#include "suppressions/default_suppressions.h"\n\n')
    f.write("namespace memtrace {\n")
    f.write('const char* const kDefaultSuppressions = R"supp(' + text + ')supp";\n')
    f.write("} // namespace memtrace\n")
