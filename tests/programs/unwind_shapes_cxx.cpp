// C++ stacks for the unwinder comparison (tests/integration/test_unwinder.cpp), built with -O2
// and without frame pointers: exceptions thrown from deep recursion (the exception object is
// allocated, destructors allocate while the stack unwinds, the handler allocates), containers,
// std::function, and threads.
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

volatile size_t g_sink;

struct AllocatesOnDestruction {
    ~AllocatesOnDestruction() {
        std::string trace(40, 'd'); // heap: longer than the small-string buffer
        g_sink = trace.size();
    }
};

[[gnu::noinline]] int throw_from(int depth) {
    AllocatesOnDestruction guard;
    std::vector<int> local(static_cast<size_t>(depth) + 8, depth);
    if (depth == 0) throw std::runtime_error(std::string(50, 'x'));
    return throw_from(depth - 1) + local[0];
}

[[gnu::noinline]] void containers(int round) {
    std::map<std::string, std::vector<int>> table;
    for (int i = 0; i < 40; ++i)
        table["key number " + std::to_string(i * round)].assign(static_cast<size_t>(i) + 1, i);
    std::function<size_t(int)> count = [&table](int extra) {
        auto copy = std::make_unique<std::vector<int>>(static_cast<size_t>(extra), extra);
        return table.size() + copy->size();
    };
    g_sink = count(round);
}

void work(int id) {
    for (int round = 0; round < 30; ++round) {
        try {
            throw_from(5 + (round + id) % 20);
        } catch (const std::exception& e) {
            std::string message = std::string("caught: ") + e.what();
            g_sink = message.size();
        }
        containers(round + id);
    }
}

} // namespace

int main() {
    work(0);
    std::vector<std::thread> threads;
    for (int id = 1; id <= 3; ++id)
        threads.emplace_back(work, id);
    for (std::thread& thread : threads)
        thread.join();
    return 0;
}
