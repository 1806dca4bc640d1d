// DUMP, DUMP@N, DUMP@LABEL, DUMP@end: splitting arguments (paths may hold '@') and resolving
// selectors against a dump's snapshots, with the errors a user sees.
#include "dump_error.h"
#include "growth/dump_selection.h"

#include <gtest/gtest.h>
#include <set>

namespace memtrace::growth {
namespace {

// A file system holding exactly these paths.
std::function<bool(const std::string&)> files(std::set<std::string> paths) {
    return [paths = std::move(paths)](const std::string& path) { return paths.count(path) != 0; };
}

std::string error_of(const std::function<void()>& action) {
    try {
        action();
    } catch (const DumpError& error) {
        return error.what();
    }
    return "(no error)";
}

const std::vector<SnapshotListing> kSnapshots = {
    {"warmup", "api", 0.5},        {"", "interval", 1.0}, {"after-1000", "api", 1.25},
    {"after-1000", "signal", 2.0}, {"12", "api", 3.0},
};

TEST(DumpSelection, PathWithoutAtIsTheFinalState) {
    const DumpSpec spec = parse_dump_spec("/tmp/a.mtd", files({}));
    EXPECT_EQ(spec.path, "/tmp/a.mtd");
    EXPECT_EQ(spec.selector, "");
    EXPECT_EQ(resolve_snapshot(spec, kSnapshots), std::nullopt);
}

TEST(DumpSelection, ExistingFileWithAtInItsNameIsReadWhole) {
    const DumpSpec spec = parse_dump_spec("/tmp/run@2.mtd", files({"/tmp/run@2.mtd", "/tmp/run"}));
    EXPECT_EQ(spec.path, "/tmp/run@2.mtd");
    EXPECT_EQ(spec.selector, "");
}

TEST(DumpSelection, SplitsAtTheFirstAtWhosePrefixExists) {
    const DumpSpec in_directory =
        parse_dump_spec("/srv/user@host/a.mtd@3", files({"/srv/user@host/a.mtd"}));
    EXPECT_EQ(in_directory.path, "/srv/user@host/a.mtd");
    EXPECT_EQ(in_directory.selector, "3");

    const DumpSpec label_with_at = parse_dump_spec("a.mtd@user@host", files({"a.mtd"}));
    EXPECT_EQ(label_with_at.path, "a.mtd");
    EXPECT_EQ(label_with_at.selector, "user@host");
}

TEST(DumpSelection, RejectsEmptySelectorAndMissingFiles) {
    EXPECT_NE(error_of([] {
                  parse_dump_spec("a.mtd@", files({"a.mtd"}));
              }).find("nothing after '@'; write a.mtd@N"),
              std::string::npos);
    EXPECT_NE(error_of([] {
                  parse_dump_spec("gone.mtd@3", files({"a.mtd"}));
              }).find("gone.mtd@3: no such file"),
              std::string::npos);
}

TEST(DumpSelection, NumbersCountFromOneInTimeOrder) {
    EXPECT_EQ(resolve_snapshot({"a@1", "a", "1"}, kSnapshots), 0u);
    EXPECT_EQ(resolve_snapshot({"a@5", "a", "5"}, kSnapshots), 4u);
    EXPECT_EQ(resolve_snapshot({"a@005", "a", "005"}, kSnapshots), 4u);
    // Digits are a number even when a label reads the same ("12" is a label above).
    const std::string too_far = error_of([] { resolve_snapshot({"a@12", "a", "12"}, kSnapshots); });
    EXPECT_NE(too_far.find("no snapshot number 12 (they count from 1): a has 5 snapshots:"),
              std::string::npos)
        << too_far;
    EXPECT_NE(error_of([] {
                  resolve_snapshot({"a@0", "a", "0"}, kSnapshots);
              }).find("no snapshot number 0"),
              std::string::npos);
    EXPECT_NE(error_of([] {
                  resolve_snapshot({"a@99999999999999999999999", "a", "99999999999999999999999"},
                                   kSnapshots);
              }).find("no snapshot number 99999999999999999999999"),
              std::string::npos);
}

TEST(DumpSelection, LabelTakesTheLastSnapshotWithIt) {
    EXPECT_EQ(resolve_snapshot({"a@after-1000", "a", "after-1000"}, kSnapshots), 3u);
    EXPECT_EQ(resolve_snapshot({"a@warmup", "a", "warmup"}, kSnapshots), 0u);
    EXPECT_EQ(resolve_snapshot({"a@end", "a", "end"}, kSnapshots), std::nullopt);
}

TEST(DumpSelection, UnknownLabelListsWhatExists) {
    const std::string message = error_of([] {
        resolve_snapshot({"a@after-9", "a", "after-9"}, kSnapshots);
    });
    EXPECT_EQ(message, "no snapshot labelled \"after-9\": a has 5 snapshots:\n"
                       "  @1          0.500 s  api      \"warmup\"\n"
                       "  @2          1.000 s  interval\n"
                       "  @3          1.250 s  api      \"after-1000\"\n"
                       "  @4          2.000 s  signal   \"after-1000\"\n"
                       "  @5          3.000 s  api      \"12\"\n"
                       "  @end   the final state");
}

TEST(DumpSelection, LongListsShowBothEnds) {
    std::vector<SnapshotListing> many(50, SnapshotListing{"", "interval", 1.0});
    many[49].label = "last";
    const std::string message = error_of([&] { resolve_snapshot({"a@x", "a", "x"}, many); });
    EXPECT_NE(message.find("a has 50 snapshots:"), std::string::npos);
    EXPECT_NE(message.find("  @10 "), std::string::npos);
    EXPECT_EQ(message.find("  @11 "), std::string::npos);
    EXPECT_NE(message.find("... (30 more)"), std::string::npos);
    EXPECT_NE(message.find("  @41 "), std::string::npos);
    EXPECT_NE(message.find("\"last\""), std::string::npos);
}

TEST(DumpSelection, DumpWithoutSnapshotsSaysHowToTakeThem) {
    const std::string message = error_of([] { resolve_snapshot({"a@1", "a", "1"}, {}); });
    EXPECT_EQ(message.rfind("a has no snapshots (take them with MEMTRACE_INTERVAL", 0), 0u)
        << message;
    EXPECT_EQ(resolve_snapshot({"a@end", "a", "end"}, {}), std::nullopt);
}

TEST(DumpSelection, DescribesTheChoice) {
    EXPECT_EQ(describe_selection({"a", "a", ""}, std::nullopt, kSnapshots), "a (final state)");
    EXPECT_EQ(describe_selection({"a@after-1000", "a", "after-1000"}, 3, kSnapshots),
              "a@4 (snapshot 4 of 5, \"after-1000\", signal, 2.000 s)");
    EXPECT_EQ(describe_selection({"a@2", "a", "2"}, 1, kSnapshots),
              "a@2 (snapshot 2 of 5, interval, 1.000 s)");
}

} // namespace
} // namespace memtrace::growth
