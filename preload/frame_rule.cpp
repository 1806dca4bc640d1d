#include "frame_rule.h"

#include <dlfcn.h>
#include <string.h>

namespace memtrace::preload {
namespace {

// DWARF register numbers on x86-64.
constexpr uint64_t kRbp = 6;
constexpr uint64_t kRsp = 7;
constexpr uint64_t kReturnAddress = 16;

// Pointer encodings (DW_EH_PE_*): the low nibble is the format, bits 4-6 the base.
constexpr uint8_t kEncodingOmit = 0xff;
constexpr uint8_t kDatarelSdata4 = 0x3b;

// Limits past which the unwind info is taken for garbage rather than trusted.
constexpr uint64_t kMaxEntryLength = uint64_t{1} << 24;
constexpr int kMaxRememberDepth = 16;

// A bounded reader over one CIE or FDE.
struct Reader {
    const uint8_t* p;
    const uint8_t* end;
    bool ok = true;

    bool take(size_t n) {
        if (!ok || static_cast<size_t>(end - p) < n) {
            ok = false;
            return false;
        }
        return true;
    }
    uint8_t u8() {
        if (!take(1)) return 0;
        return *p++;
    }
    template <typename T> T fixed() {
        T value{};
        if (!take(sizeof(T))) return value;
        memcpy(&value, p, sizeof(T));
        p += sizeof(T);
        return value;
    }
    uint64_t uleb() {
        return leb128(false);
    }
    int64_t sleb() {
        return static_cast<int64_t>(leb128(true));
    }
    // LEB128: 7 bits a byte, low first; a signed value is sign-extended from its last byte.
    uint64_t leb128(bool is_signed) {
        uint64_t value = 0;
        for (unsigned shift = 0;; shift += 7) {
            const uint8_t byte = u8();
            if (!ok || shift > 63) {
                ok = false;
                return 0;
            }
            value |= uint64_t{byte & 0x7fu} << shift;
            if (!(byte & 0x80)) {
                if (is_signed && shift + 7 < 64 && (byte & 0x40))
                    value |= ~uint64_t{0} << (shift + 7);
                return value;
            }
        }
    }
    // An encoded pointer. Only absolute and pc-relative bases are meaningful inside .eh_frame;
    // value_only skips the base (an FDE's address range uses the format alone).
    uint64_t pointer(uint8_t encoding, bool value_only = false) {
        const auto field = reinterpret_cast<uint64_t>(p);
        uint64_t value = 0;
        switch (encoding & 0x0f) {
        case 0x00:
            value = fixed<uint64_t>();
            break;
        case 0x01:
            value = uleb();
            break;
        case 0x02:
            value = fixed<uint16_t>();
            break;
        case 0x03:
            value = fixed<uint32_t>();
            break;
        case 0x04:
            value = fixed<uint64_t>();
            break;
        case 0x09:
            value = static_cast<uint64_t>(sleb());
            break;
        case 0x0a:
            value = static_cast<uint64_t>(static_cast<int64_t>(fixed<int16_t>()));
            break;
        case 0x0b:
            value = static_cast<uint64_t>(static_cast<int64_t>(fixed<int32_t>()));
            break;
        case 0x0c:
            value = fixed<uint64_t>();
            break;
        default:
            ok = false;
            return 0;
        }
        if (value_only) return value;
        switch (encoding & 0x70) {
        case 0x00:
            return value;
        case 0x10:
            return value + field;
        default:
            ok = false;
            return 0; // textrel, datarel, funcrel, aligned: not in .eh_frame
        }
    }
};

// Reads a CIE or FDE header: its length, and the reader over its contents after the length.
bool open_entry(const uint8_t* entry, Reader* contents) {
    Reader header{entry, entry + 12};
    uint64_t length = header.fixed<uint32_t>();
    if (length == 0xffffffff) length = header.fixed<uint64_t>();
    if (!header.ok || length == 0 || length > kMaxEntryLength) return false;
    *contents = Reader{header.p, header.p + length};
    return true;
}

// How one register is recovered in the caller.
enum class RegisterHow : uint8_t { Same, Undefined, AtCfaOffset, Other };

struct RegisterRule {
    RegisterHow how = RegisterHow::Same;
    int64_t offset = 0;
};

struct Row {
    uint64_t cfa_register = kRsp;
    int64_t cfa_offset = 0;
    bool cfa_is_expression = false;
    RegisterRule rbp, rsp, return_address;
    // A register other than these three is recovered by a DWARF expression (libunwind would
    // evaluate it while stepping): left to libunwind.
    bool other_expression = false;
};

struct Cie {
    uint64_t code_alignment = 1;
    int64_t data_alignment = 1;
    uint8_t fde_encoding = 0; // absolute 8-byte pointers when there is no 'R'
    bool has_augmentation_data = false;
    bool signal_frame = false;
    Reader instructions{nullptr, nullptr};
};

bool parse_cie(const uint8_t* entry, Cie* cie) {
    Reader r{nullptr, nullptr};
    if (!open_entry(entry, &r)) return false;
    if (r.fixed<uint32_t>() != 0) return false; // not a CIE
    const uint8_t version = r.u8();
    if (version != 1 && version != 3 && version != 4) return false;
    const char* augmentation = reinterpret_cast<const char*>(r.p);
    const size_t length = strnlen(augmentation, static_cast<size_t>(r.end - r.p));
    if (!r.take(length + 1)) return false;
    r.p += length + 1;
    if (version == 4) {
        if (r.u8() != 8 || r.u8() != 0) return false; // address and segment sizes
    }
    cie->code_alignment = r.uleb();
    cie->data_alignment = r.sleb();
    const uint64_t return_register = version == 1 ? r.u8() : r.uleb();
    if (!r.ok || return_register != kReturnAddress) return false;
    if (length == 0) {
        cie->instructions = r;
        return true;
    }
    if (augmentation[0] != 'z') return false;
    cie->has_augmentation_data = true;
    const uint64_t data_length = r.uleb();
    if (!r.take(data_length)) return false;
    const uint8_t* data_end = r.p + data_length;
    for (size_t i = 1; i < length; ++i) {
        switch (augmentation[i]) {
        case 'L':
            r.u8();
            break;
        case 'P': {
            const uint8_t encoding = r.u8();
            if (encoding != kEncodingOmit) r.pointer(encoding & 0x7f); // indirect: not followed
            break;
        }
        case 'R':
            cie->fde_encoding = r.u8();
            break;
        case 'S':
            cie->signal_frame = true;
            break;
        default:
            return false;
        }
        if (!r.ok || r.p > data_end) return false;
    }
    r.p = data_end;
    cie->instructions = r;
    return true;
}

// Runs call frame instructions from `location` while the row still covers pc. initial is the
// row after the CIE's instructions (DW_CFA_restore goes back to it); null while running them.
bool run_instructions(Reader r, const Cie& cie, uint8_t fde_encoding, uint64_t location,
                      uint64_t pc, const Row* initial, Row* row) {
    Row remembered[kMaxRememberDepth];
    int depth = 0;
    auto rule_of = [&](uint64_t reg) -> RegisterRule* {
        switch (reg) {
        case kRbp:
            return &row->rbp;
        case kRsp:
            return &row->rsp;
        case kReturnAddress:
            return &row->return_address;
        default:
            return nullptr;
        }
    };
    auto set = [&](uint64_t reg, RegisterHow how, int64_t offset) {
        if (RegisterRule* rule = rule_of(reg)) *rule = RegisterRule{how, offset};
    };
    auto restore = [&](uint64_t reg) {
        if (!initial) return false; // DW_CFA_restore inside a CIE means nothing
        if (RegisterRule* rule = rule_of(reg)) {
            const Row& from = *initial;
            *rule = reg == kRbp ? from.rbp : reg == kRsp ? from.rsp : from.return_address;
        }
        return true;
    };
    auto advance = [&](uint64_t delta) { location += delta * cie.code_alignment; };

    while (r.ok && r.p < r.end) {
        if (initial && location > pc) return true;
        const uint8_t op = r.u8();
        const uint8_t low = op & 0x3f;
        switch (op >> 6) {
        case 1:
            advance(low);
            continue;
        case 2:
            set(low, RegisterHow::AtCfaOffset, static_cast<int64_t>(r.uleb()) * cie.data_alignment);
            continue;
        case 3:
            if (!restore(low)) return false;
            continue;
        default:
            break;
        }
        switch (op) {
        case 0x00:
            break; // nop
        case 0x01:
            location = r.pointer(fde_encoding);
            break;
        case 0x02:
            advance(r.u8());
            break;
        case 0x03:
            advance(r.fixed<uint16_t>());
            break;
        case 0x04:
            advance(r.fixed<uint32_t>());
            break;
        case 0x05: {
            const uint64_t reg = r.uleb();
            set(reg, RegisterHow::AtCfaOffset, static_cast<int64_t>(r.uleb()) * cie.data_alignment);
            break;
        }
        case 0x06:
            if (!restore(r.uleb())) return false;
            break;
        case 0x07:
            set(r.uleb(), RegisterHow::Undefined, 0);
            break;
        case 0x08:
            set(r.uleb(), RegisterHow::Same, 0);
            break;
        case 0x09: { // register: the value is in another register
            const uint64_t reg = r.uleb();
            r.uleb();
            set(reg, RegisterHow::Other, 0);
            break;
        }
        case 0x0a:
            if (depth == kMaxRememberDepth) return false;
            remembered[depth++] = *row;
            break;
        case 0x0b: // restore_state: the CFA rule comes back too (GCC's epilogues rely on it)
            if (depth == 0) return false;
            *row = remembered[--depth];
            break;
        case 0x0c:
            row->cfa_register = r.uleb();
            row->cfa_offset = static_cast<int64_t>(r.uleb());
            row->cfa_is_expression = false;
            break;
        case 0x0d:
            if (row->cfa_is_expression) return false;
            row->cfa_register = r.uleb();
            break;
        case 0x0e:
            if (row->cfa_is_expression) return false;
            row->cfa_offset = static_cast<int64_t>(r.uleb());
            break;
        case 0x0f: { // def_cfa_expression
            const uint64_t length = r.uleb();
            if (!r.take(length)) return false;
            r.p += length;
            row->cfa_is_expression = true;
            break;
        }
        case 0x10:   // expression
        case 0x16: { // val_expression
            const uint64_t reg = r.uleb();
            const uint64_t length = r.uleb();
            if (!r.take(length)) return false;
            r.p += length;
            if (rule_of(reg)) {
                set(reg, RegisterHow::Other, 0);
            } else {
                row->other_expression = true;
            }
            break;
        }
        case 0x11: {
            const uint64_t reg = r.uleb();
            set(reg, RegisterHow::AtCfaOffset, r.sleb() * cie.data_alignment);
            break;
        }
        case 0x12:
            row->cfa_register = r.uleb();
            row->cfa_offset = r.sleb() * cie.data_alignment;
            row->cfa_is_expression = false;
            break;
        case 0x13:
            if (row->cfa_is_expression) return false;
            row->cfa_offset = r.sleb() * cie.data_alignment;
            break;
        case 0x14: // val_offset: the value (not its location) is CFA + offset
            set(r.uleb(), RegisterHow::Other, 0);
            r.uleb();
            break;
        case 0x15:
            set(r.uleb(), RegisterHow::Other, 0);
            r.sleb();
            break;
        case 0x2e:
            r.uleb();
            break;   // GNU_args_size
        case 0x2f: { // GNU_negative_offset_extended
            const uint64_t reg = r.uleb();
            set(reg, RegisterHow::AtCfaOffset,
                -static_cast<int64_t>(r.uleb()) * cie.data_alignment);
            break;
        }
        default:
            return false; // vendor or unknown opcode
        }
    }
    return r.ok;
}

// The FDE whose range may hold pc, from the sorted table of .eh_frame_hdr.
const uint8_t* find_fde(const uint8_t* header, uint64_t pc) {
    if (header[0] != 1 || header[3] != kDatarelSdata4) return nullptr;
    Reader r{header + 4, header + 4 + 16};
    if (header[1] != kEncodingOmit) r.pointer(header[1]); // eh_frame_ptr: not needed
    if (header[2] == kEncodingOmit) return nullptr;
    const uint64_t count = r.pointer(header[2]);
    if (!r.ok || count == 0) return nullptr;
    const auto* table = reinterpret_cast<const int32_t*>(r.p);
    const auto base = reinterpret_cast<uint64_t>(header);
    const int64_t target = static_cast<int64_t>(pc - base);
    // The last entry whose start is <= pc.
    uint64_t low = 0;
    uint64_t high = count;
    while (high - low > 1) {
        const uint64_t middle = low + (high - low) / 2;
        if (table[2 * middle] <= target) {
            low = middle;
        } else {
            high = middle;
        }
    }
    if (table[2 * low] > target) return nullptr;
    return header + table[2 * low + 1];
}

FrameRule unsupported() {
    return FrameRule{FrameKind::Unsupported, false, false, 0, 0};
}

// The same test as libunwind's "standard frame", so both unwinders agree on which frames
// they trace themselves.
FrameRule classify(const Row& row) {
    if (row.cfa_is_expression || row.other_expression) return unsupported();
    if (row.cfa_register != kRbp && row.cfa_register != kRsp) return unsupported();
    if (row.cfa_offset <= -(int64_t{1} << 28) || row.cfa_offset >= (int64_t{1} << 28))
        return unsupported();
    FrameRule rule{FrameKind::Standard, row.cfa_register == kRbp, false, 0,
                   static_cast<int32_t>(row.cfa_offset)};
    if (row.return_address.how == RegisterHow::Undefined) {
        rule.kind = FrameKind::Outermost;
        return rule;
    }
    if (row.return_address.how != RegisterHow::AtCfaOffset || row.return_address.offset != -8)
        return unsupported();
    auto small = [](int64_t offset) {
        return offset > -(int64_t{1} << 14) && offset < (int64_t{1} << 14) && offset != -1;
    };
    switch (row.rsp.how) {
    case RegisterHow::Same:
        break;
    case RegisterHow::AtCfaOffset:
        if (!small(row.rsp.offset)) return unsupported();
        break;
    default:
        return unsupported();
    }
    switch (row.rbp.how) {
    case RegisterHow::Same:
        break;
    case RegisterHow::Undefined:
        rule.kind = FrameKind::Outermost;
        break;
    case RegisterHow::AtCfaOffset:
        if (!small(row.rbp.offset)) return unsupported();
        rule.rbp_saved = true;
        rule.rbp_offset = static_cast<int16_t>(row.rbp.offset);
        break;
    default:
        return unsupported();
    }
    return rule;
}

} // namespace

FrameRule frame_rule_for(uint64_t pc) {
    dl_find_object object;
    if (_dl_find_object(reinterpret_cast<void*>(pc), &object) != 0 || !object.dlfo_eh_frame)
        return unsupported();
    const uint8_t* fde = find_fde(static_cast<const uint8_t*>(object.dlfo_eh_frame), pc);
    if (!fde) return unsupported();
    Reader r{nullptr, nullptr};
    if (!open_entry(fde, &r)) return unsupported();
    const uint8_t* id_field = r.p;
    const uint32_t cie_offset = r.fixed<uint32_t>();
    if (!r.ok || cie_offset == 0) return unsupported();
    Cie cie;
    if (!parse_cie(id_field - cie_offset, &cie) || cie.signal_frame) return unsupported();
    if (cie.fde_encoding & 0x80) return unsupported(); // indirect
    const uint64_t start = r.pointer(cie.fde_encoding);
    const uint64_t range = r.pointer(cie.fde_encoding, true);
    if (!r.ok || pc < start || pc - start >= range) return unsupported();
    if (cie.has_augmentation_data) {
        const uint64_t length = r.uleb();
        if (!r.take(length)) return unsupported();
        r.p += length;
    }
    Row initial;
    if (!run_instructions(cie.instructions, cie, cie.fde_encoding, start, pc, nullptr, &initial))
        return unsupported();
    Row row = initial;
    if (!run_instructions(r, cie, cie.fde_encoding, start, pc, &initial, &row))
        return unsupported();
    return classify(row);
}

} // namespace memtrace::preload
