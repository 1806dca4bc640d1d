// Workload "C++ containers and strings": the allocation pattern of ordinary C++ code. Builds an
// ordered map of string keys to vectors, a hash map of ids to strings, a vector of strings that
// is sorted and deduplicated, and concatenates strings, ROUNDS times. Fixed work for a given
// SCALE and ROUNDS.
//
// usage: containers SCALE ROUNDS
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

std::uint64_t next_random(std::uint64_t& state) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

// Keys long enough to defeat the small-string buffer, as identifiers and paths usually are.
std::string make_key(std::uint64_t n) {
    return "customer/" + std::to_string(n % 100000) + "/order-" + std::to_string(n);
}

std::uint64_t ordered_map_round(std::size_t scale, std::uint64_t seed) {
    std::map<std::string, std::vector<int>> orders;
    std::uint64_t state = seed;
    for (std::size_t i = 0; i < scale; ++i) {
        auto& items = orders[make_key(next_random(state) % (scale * 2))];
        items.push_back(static_cast<int>(i));
    }
    std::uint64_t sum = 0;
    for (const auto& [key, items] : orders)
        sum += key.size() + items.size();
    // drop every third entry, then look up survivors by freshly built keys
    std::size_t index = 0;
    for (auto it = orders.begin(); it != orders.end();)
        it = (index++ % 3 == 0) ? orders.erase(it) : std::next(it);
    state = seed;
    for (std::size_t i = 0; i < scale; ++i)
        sum += orders.count(make_key(next_random(state) % (scale * 2)));
    return sum;
}

std::uint64_t hash_map_round(std::size_t scale, std::uint64_t seed) {
    std::unordered_map<std::uint64_t, std::string> names;
    std::uint64_t state = seed;
    for (std::size_t i = 0; i < scale; ++i) {
        std::uint64_t id = next_random(state) % (scale * 4);
        names[id] = "name-" + std::to_string(id) + "-" + std::string(id % 48, 'x');
    }
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < scale * 2; ++i) {
        auto it = names.find(i);
        if (it != names.end()) {
            sum += it->second.size();
            if (i % 2 == 0) names.erase(it);
        }
    }
    return sum + names.size();
}

std::uint64_t sorted_strings_round(std::size_t scale, std::uint64_t seed) {
    std::vector<std::string> words;
    std::uint64_t state = seed;
    for (std::size_t i = 0; i < scale; ++i) {
        std::string word;
        std::size_t length = 4 + next_random(state) % 40;
        for (std::size_t c = 0; c < length; ++c)
            word += static_cast<char>('a' + next_random(state) % 6);
        words.push_back(std::move(word));
    }
    std::sort(words.begin(), words.end());
    words.erase(std::unique(words.begin(), words.end()), words.end());
    std::string joined;
    for (const auto& w : words) {
        joined += w;
        joined += ',';
    }
    return words.size() + joined.size();
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s SCALE ROUNDS\n", argv[0]);
        return 2;
    }
    std::size_t scale = std::strtoul(argv[1], nullptr, 10);
    unsigned rounds = static_cast<unsigned>(std::strtoul(argv[2], nullptr, 10));
    std::uint64_t checksum = 0;
    for (unsigned r = 0; r < rounds; ++r) {
        checksum += ordered_map_round(scale, 0x1234567 + r);
        checksum += hash_map_round(scale, 0x7654321 + r);
        checksum += sorted_strings_round(scale, 0x2468ace + r);
    }
    std::printf("containers checksum %llu\n", static_cast<unsigned long long>(checksum));
    return 0;
}
