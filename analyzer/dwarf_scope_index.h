// The tree of one compile unit's DIEs, walked once: which function scope holds an address, and
// the DIEs around a DIE. libdw answers both (dwarf_getscopes, dwarf_getscopes_die) by walking the
// unit from its start on every call; a C++ unit full of the standard library's templates took
// 3-4 ms a call, and the symbolizer asks a few times per address.
#pragma once

#include <cstdint>
#include <elfutils/libdw.h>
#include <optional>
#include <vector>

namespace memtrace {

class DwarfScopeIndex {
public:
    // Walks every DIE of the unit whose DIE is `cudie`. An index that cannot stand for libdw's
    // answers (a unit importing a partial unit, as dwz leaves them, or DWARF libdw fails to walk)
    // is not usable(): the caller asks libdw instead.
    explicit DwarfScopeIndex(Dwarf_Die* cudie);

    bool usable() const {
        return usable_;
    }

    // The innermost subprogram, inlined subroutine or entry point whose ranges hold pc (a DWARF
    // address of the unit); nullopt when none does.
    std::optional<Dwarf_Die> innermost_function(Dwarf_Addr pc) const;

    // `die` and the DIEs around it, `die` first and the unit's DIE last, as dwarf_getscopes_die
    // gives them; nullopt when `die` is not one of this unit's.
    std::optional<std::vector<Dwarf_Die>> enclosing(Dwarf_Die* die) const;

    // True when `die` belongs to this unit (and so enclosing() can answer for it).
    bool holds(Dwarf_Die* die) const;

private:
    struct Node {
        Dwarf_Off offset;
        Dwarf_Off parent; // kNoParent for the unit's DIE
    };
    struct Range {
        Dwarf_Addr low;
        Dwarf_Addr high; // one past the end
        Dwarf_Off offset;
        uint32_t depth; // in the tree: the deepest holding scope is the innermost
    };

    void walk(Dwarf_Die* cudie);
    const Node* find(Dwarf_Off offset) const;

    Dwarf* dwarf_ = nullptr;
    Dwarf_Off unit_offset_ = 0;
    std::vector<Node> nodes_; // by offset: the walk visits DIEs in the order of the file
    std::vector<Range> ranges_;
    bool usable_ = false;
};

} // namespace memtrace
