// DwarfScopeIndex against libdw's own walk: for the addresses of every unit of the fixture
// libraries (among them a C++ unit full of the standard library's templates), the index must
// name the same innermost function scope as dwarf_getscopes, and the same DIEs around each
// scope as dwarf_getscopes_die.
#include "dwarf_scope_index.h"

#include <cstdlib>
#include <dwarf.h>
#include <elfutils/libdwfl.h>
#include <gtest/gtest.h>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace memtrace {
namespace {

const Dwfl_Callbacks kCallbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = nullptr,
};

bool is_function_scope(Dwarf_Die* die) {
    const int tag = dwarf_tag(die);
    return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine ||
           tag == DW_TAG_entry_point;
}

std::vector<Dwarf_Off> offsets(const std::vector<Dwarf_Die>& dies) {
    std::vector<Dwarf_Off> out;
    for (Dwarf_Die die : dies)
        out.push_back(dwarf_dieoffset(&die));
    return out;
}

std::vector<Dwarf_Off> libdw_enclosing(Dwarf_Die* die) {
    Dwarf_Die* scopes = nullptr;
    const int count = dwarf_getscopes_die(die, &scopes);
    std::unique_ptr<Dwarf_Die, decltype(&std::free)> owner(scopes, &std::free);
    std::vector<Dwarf_Off> out;
    for (int i = 0; i < count; ++i)
        out.push_back(dwarf_dieoffset(&scopes[i]));
    return out;
}

// Checks every stride-th address the unit's ranges cover (libdw walks the unit for each);
// returns how many held a function scope.
size_t compare_unit(Dwarf_Die* cudie, Dwarf_Addr stride) {
    DwarfScopeIndex index(cudie);
    EXPECT_TRUE(index.usable()) << dwarf_diename(cudie);
    if (!index.usable()) return 0;
    size_t checked = 0;
    std::map<Dwarf_Off, bool> enclosing_checked;
    Dwarf_Addr base = 0;
    Dwarf_Addr low = 0;
    Dwarf_Addr high = 0;
    for (ptrdiff_t next = 0; (next = dwarf_ranges(cudie, next, &base, &low, &high)) > 0;) {
        for (Dwarf_Addr pc = low; pc < high; pc += stride) {
            Dwarf_Die* scopes = nullptr;
            const int count = dwarf_getscopes(cudie, pc, &scopes);
            std::unique_ptr<Dwarf_Die, decltype(&std::free)> owner(scopes, &std::free);
            std::optional<Dwarf_Off> expected;
            for (int i = 0; i < count; ++i) {
                if (is_function_scope(&scopes[i])) {
                    expected = dwarf_dieoffset(&scopes[i]);
                    break;
                }
            }
            std::optional<Dwarf_Die> found = index.innermost_function(pc);
            if (expected.has_value() != found.has_value()) {
                ADD_FAILURE() << std::hex << "pc 0x" << pc << ": libdw "
                              << (expected ? "finds" : "does not find") << " a function";
                return checked;
            }
            if (!found) continue;
            ++checked;
            if (*expected != dwarf_dieoffset(&*found)) {
                ADD_FAILURE() << std::hex << "pc 0x" << pc << ": libdw's innermost function is "
                              << *expected << ", the index's " << dwarf_dieoffset(&*found);
                return checked;
            }
            if (enclosing_checked.emplace(*expected, true).second) {
                auto enclosing = index.enclosing(&*found);
                EXPECT_TRUE(enclosing.has_value());
                if (enclosing) {
                    EXPECT_EQ(libdw_enclosing(&*found), offsets(*enclosing));
                }
            }
        }
    }
    return checked;
}

size_t compare_module(const char* path, Dwarf_Addr stride) {
    std::unique_ptr<Dwfl, decltype(&dwfl_end)> dwfl(dwfl_begin(&kCallbacks), &dwfl_end);
    EXPECT_NE(dwfl, nullptr);
    if (!dwfl) return 0;
    dwfl_report_begin(dwfl.get());
    Dwfl_Module* module = dwfl_report_elf(dwfl.get(), path, path, -1, 0, false);
    dwfl_report_end(dwfl.get(), nullptr, nullptr);
    EXPECT_NE(module, nullptr) << path;
    if (module == nullptr) return 0;
    size_t checked = 0;
    Dwarf_Addr bias = 0;
    for (Dwarf_Die* cudie = nullptr; (cudie = dwfl_module_nextcu(module, cudie, &bias));) {
        checked += compare_unit(cudie, stride);
    }
    return checked;
}

TEST(DwarfScopeIndex, AgreesWithLibdwOnEveryAddressOfTheFixtures) {
    EXPECT_GT(compare_module(FIXTURE_O0_PATH, 1), 0u);
    EXPECT_GT(compare_module(FIXTURE_INLINE_PATH, 1), 0u);
}

TEST(DwarfScopeIndex, AgreesWithLibdwOnACxxUnitWithTemplates) {
    // An odd stride, so that the addresses fall at varied offsets into instructions over the
    // unit; still over a thousand of them.
    EXPECT_GT(compare_module(FIXTURE_TEMPLATES_PATH, 5), 1000u);
}

TEST(DwarfScopeIndex, DieOfAnotherUnitIsNotHeld) {
    // The inline fixture has two units: its own source and fixture_capture.cpp.
    std::unique_ptr<Dwfl, decltype(&dwfl_end)> dwfl(dwfl_begin(&kCallbacks), &dwfl_end);
    ASSERT_NE(dwfl, nullptr);
    dwfl_report_begin(dwfl.get());
    Dwfl_Module* module = dwfl_report_elf(dwfl.get(), "fixture", FIXTURE_INLINE_PATH, -1, 0, false);
    dwfl_report_end(dwfl.get(), nullptr, nullptr);
    ASSERT_NE(module, nullptr);
    Dwarf_Addr bias = 0;
    Dwarf_Die* first = dwfl_module_nextcu(module, nullptr, &bias);
    ASSERT_NE(first, nullptr);
    Dwarf_Die first_copy = *first;
    Dwarf_Die* second = dwfl_module_nextcu(module, first, &bias);
    ASSERT_NE(second, nullptr);
    DwarfScopeIndex index(&first_copy);
    ASSERT_TRUE(index.usable());
    EXPECT_TRUE(index.holds(&first_copy));
    EXPECT_FALSE(index.holds(second));
    EXPECT_FALSE(index.enclosing(second).has_value());
}

} // namespace
} // namespace memtrace
