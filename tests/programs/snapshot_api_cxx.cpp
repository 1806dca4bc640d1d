// The C API from C++: one labelled snapshot; prints "snapshot <rc>". Leaks nothing.
#include "program_io.h"

#include <memory>
#include <memtrace/memtrace.h>

int main() {
    auto block = std::make_unique<char[]>(100);
    say_number("snapshot", memtrace_snapshot("from c++"));
    return block ? 0 : 1;
}
