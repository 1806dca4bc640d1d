// Built with -O2 -g: a C++ unit full of the standard library's templates, most of them inlined,
// as real programs are (the scope index test walks its every address).
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

extern "C" size_t fixture_templates_work(int count) {
    std::map<std::string, std::vector<int>> ordered;
    std::unordered_map<int, std::string> hashed;
    for (int i = 0; i < count; ++i) {
        ordered["key" + std::to_string(i % 17)].push_back(i);
        hashed[i] = std::to_string(i);
    }
    size_t total = 0;
    for (const auto& [key, values] : ordered)
        total += key.size() + values.size();
    for (const auto& [key, value] : hashed)
        total += value.size();
    return total;
}
