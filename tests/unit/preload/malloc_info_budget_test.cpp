#include "malloc_info_budget.h"

#include <gtest/gtest.h>

namespace memtrace::preload {
namespace {

constexpr uint64_t kSecond = 1000000000;

TEST(MallocInfoBudget, ABulkReleaseSinceThePeakSkipsIt) {
    MallocInfoBudget budget;
    budget.observe(0, 0);
    budget.observe(kSecond / 2, 2500000); // the peak
    // A million blocks freed since: about 0.3 s of walk, more than a tenth of the 1 s run.
    EXPECT_FALSE(budget.due(1 * kSecond, 1500000));
    // Without the release it is due.
    MallocInfoBudget growing;
    growing.observe(0, 0);
    growing.observe(kSecond / 2, 2500000);
    EXPECT_TRUE(growing.due(1 * kSecond, 2500000));
    // Later in the run the same release fits the budget.
    EXPECT_TRUE(budget.due(10 * kSecond, 1500000));
}

TEST(MallocInfoBudget, ACallResetsThePeakToWhatItWalked) {
    MallocInfoBudget budget;
    budget.observe(0, 3000000);
    EXPECT_TRUE(budget.due(100 * kSecond, 1000000));
    budget.spent(100 * kSecond, 1000000, kSecond / 100);
    // The next interval: no new release since the call, so only the time spent counts.
    EXPECT_TRUE(budget.due(101 * kSecond, 1000000));
}

TEST(MallocInfoBudget, CallsOverATenthOfTheTimeSkipIt) {
    MallocInfoBudget budget;
    budget.observe(0, 0);
    EXPECT_TRUE(budget.due(1 * kSecond, 0));
    budget.spent(1 * kSecond, 0, kSecond / 2); // one slow walk of half a second
    EXPECT_FALSE(budget.due(2 * kSecond, 0));
    EXPECT_FALSE(budget.due(4 * kSecond, 0));
    EXPECT_TRUE(budget.due(5 * kSecond, 0)); // 0.5 s is a tenth of the 5 s since the start
}

} // namespace
} // namespace memtrace::preload
