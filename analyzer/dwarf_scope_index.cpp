#include "dwarf_scope_index.h"

#include <algorithm>
#include <dwarf.h>

namespace memtrace {
namespace {

constexpr Dwarf_Off kNoParent = ~Dwarf_Off{0};

bool is_function_scope(int tag) {
    return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine ||
           tag == DW_TAG_entry_point;
}

} // namespace

DwarfScopeIndex::DwarfScopeIndex(Dwarf_Die* cudie) {
    // Type, partial and split units are left to libdw: only a whole compile unit in
    // .debug_info is indexed, so that dwarf_offdie() finds its DIEs again.
    if (cudie == nullptr || cudie->cu == nullptr || dwarf_tag(cudie) != DW_TAG_compile_unit) {
        return;
    }
    dwarf_ = dwarf_cu_getdwarf(cudie->cu);
    unit_offset_ = dwarf_dieoffset(cudie);
    if (dwarf_ == nullptr) return;
    walk(cudie);
}

void DwarfScopeIndex::walk(Dwarf_Die* cudie) {
    nodes_.push_back({unit_offset_, kNoParent});
    Dwarf_Die first;
    const int has_children = dwarf_child(cudie, &first);
    if (has_children < 0) return;
    if (has_children > 0) {
        usable_ = true;
        return;
    }
    // A depth-first walk: path[i] is the DIE at depth i + 1, parents[i] the offset of its parent.
    std::vector<Dwarf_Die> path{first};
    std::vector<Dwarf_Off> parents{unit_offset_};
    while (!path.empty()) {
        Dwarf_Die& die = path.back();
        const Dwarf_Off offset = dwarf_dieoffset(&die);
        nodes_.push_back({offset, parents.back()});
        const int tag = dwarf_tag(&die);
        // dwarf_getscopes follows imported units into other units: not worth copying here.
        if (tag == DW_TAG_imported_unit) return;
        if (is_function_scope(tag)) {
            Dwarf_Addr base = 0;
            Dwarf_Addr low = 0;
            Dwarf_Addr high = 0;
            for (ptrdiff_t next = 0; (next = dwarf_ranges(&die, next, &base, &low, &high)) > 0;) {
                if (low < high) {
                    ranges_.push_back({low, high, offset, static_cast<uint32_t>(path.size())});
                }
            }
        }
        Dwarf_Die child;
        const int descend = dwarf_child(&die, &child);
        if (descend < 0) return;
        if (descend == 0) {
            parents.push_back(offset);
            path.push_back(child);
            continue;
        }
        // No children: the next sibling, or that of the nearest ancestor that has one.
        while (!path.empty()) {
            Dwarf_Die sibling;
            const int found = dwarf_siblingof(&path.back(), &sibling);
            if (found < 0) return;
            if (found == 0) {
                path.back() = sibling;
                break;
            }
            path.pop_back();
            parents.pop_back();
        }
    }
    // The lookups below search by offset; DWARF puts children after their parent and siblings
    // in order, so a damaged file is all that would break this.
    usable_ = std::is_sorted(nodes_.begin(), nodes_.end(),
                             [](const Node& a, const Node& b) { return a.offset < b.offset; });
}

const DwarfScopeIndex::Node* DwarfScopeIndex::find(Dwarf_Off offset) const {
    const auto it =
        std::lower_bound(nodes_.begin(), nodes_.end(), offset,
                         [](const Node& node, Dwarf_Off value) { return node.offset < value; });
    if (it == nodes_.end() || it->offset != offset) return nullptr;
    return &*it;
}

std::optional<Dwarf_Die> DwarfScopeIndex::innermost_function(Dwarf_Addr pc) const {
    const Range* best = nullptr;
    for (const Range& range : ranges_) {
        // Scopes nest: the deepest that holds pc is inside all the others that do. Among equals
        // (overlapping siblings, which only bad DWARF has) the first, as libdw's walk finds it.
        if (pc >= range.low && pc < range.high && (best == nullptr || range.depth > best->depth)) {
            best = &range;
        }
    }
    if (best == nullptr) return std::nullopt;
    Dwarf_Die die;
    if (dwarf_offdie(dwarf_, best->offset, &die) == nullptr) return std::nullopt;
    return die;
}

bool DwarfScopeIndex::holds(Dwarf_Die* die) const {
    return usable_ && die != nullptr && die->cu != nullptr &&
           dwarf_cu_getdwarf(die->cu) == dwarf_ && find(dwarf_dieoffset(die)) != nullptr;
}

std::optional<std::vector<Dwarf_Die>> DwarfScopeIndex::enclosing(Dwarf_Die* die) const {
    if (!holds(die)) return std::nullopt;
    std::vector<Dwarf_Die> scopes{*die};
    for (const Node* node = find(dwarf_dieoffset(die)); node->parent != kNoParent;) {
        node = find(node->parent);
        Dwarf_Die parent;
        if (node == nullptr || dwarf_offdie(dwarf_, node->offset, &parent) == nullptr) {
            return std::nullopt;
        }
        scopes.push_back(parent);
    }
    return scopes;
}

} // namespace memtrace
