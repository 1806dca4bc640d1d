// frame_rule_for() on functions whose call frame information is written out here, in assembly
// with .cfi directives: the assembler puts them in this test's own .eh_frame, which the real
// lookup (_dl_find_object, .eh_frame_hdr, CIE and FDE instructions) then reads.
#include "frame_rule.h"
#include "frame_rule_cache.h"

#include <gtest/gtest.h>
#include <stdint.h>
#include <vector>

extern "C" {
void rule_probe_frame_pointer();
void rule_probe_frame_pointer_pushed();
void rule_probe_frame_pointer_body();
void rule_probe_frame_pointer_epilogue();
void rule_probe_frame_pointer_restored();
void rule_probe_end_of_stack();
void rule_probe_signal_frame();
void rule_probe_expression();
void rule_probe_rbp_in_register();
}

// Each label sits after the instruction whose effect the CFI describes there.
asm(R"(
    .text
    .globl rule_probe_frame_pointer, rule_probe_frame_pointer_pushed
    .globl rule_probe_frame_pointer_body, rule_probe_frame_pointer_epilogue
    .globl rule_probe_frame_pointer_restored
rule_probe_frame_pointer:
    .cfi_startproc
    push %rbp
rule_probe_frame_pointer_pushed:
    .cfi_def_cfa_offset 16
    .cfi_offset %rbp, -16
    mov %rsp, %rbp
    .cfi_def_cfa_register %rbp
    sub $4096, %rsp
rule_probe_frame_pointer_body:
    nop
    .cfi_remember_state
    leave
    .cfi_def_cfa %rsp, 8
rule_probe_frame_pointer_epilogue:
    ret
    .cfi_restore_state
rule_probe_frame_pointer_restored:
    nop
    ret
    .cfi_endproc

    .globl rule_probe_end_of_stack
rule_probe_end_of_stack:
    .cfi_startproc
    .cfi_undefined %rip
    nop
    nop
    ret
    .cfi_endproc

    .globl rule_probe_signal_frame
rule_probe_signal_frame:
    .cfi_startproc
    .cfi_signal_frame
    nop
    nop
    ret
    .cfi_endproc

    .globl rule_probe_expression
rule_probe_expression:
    .cfi_startproc
    nop
    .cfi_escape 0x0f, 0x03, 0x77, 0x08, 0x06   # DW_CFA_def_cfa_expression: [rsp + 8]
    nop
    ret
    .cfi_endproc

    .globl rule_probe_rbp_in_register
rule_probe_rbp_in_register:
    .cfi_startproc
    mov %rbp, %rax
    .cfi_register %rbp, %rax
    nop
    ret
    .cfi_endproc
)");

namespace {

using memtrace::preload::frame_rule_for;
using memtrace::preload::FrameKind;
using memtrace::preload::FrameRule;

uint64_t at(void (*function)(), int64_t delta = 0) {
    return reinterpret_cast<uint64_t>(function) + static_cast<uint64_t>(delta);
}

void expect_standard(const FrameRule& rule, bool from_rbp, int32_t cfa_offset, bool rbp_saved,
                     int16_t rbp_offset) {
    EXPECT_EQ(rule.kind, FrameKind::Standard);
    EXPECT_EQ(rule.cfa_from_rbp, from_rbp);
    EXPECT_EQ(rule.cfa_offset, cfa_offset);
    EXPECT_EQ(rule.rbp_saved, rbp_saved);
    if (rbp_saved) {
        EXPECT_EQ(rule.rbp_offset, rbp_offset);
    }
}

TEST(FrameRule, FollowsAFramePointerPrologueAndEpilogue) {
    // At entry: CFA = RSP + 8, RBP untouched.
    expect_standard(frame_rule_for(at(rule_probe_frame_pointer)), false, 8, false, 0);
    // After push %rbp: CFA = RSP + 16, RBP saved at CFA - 16.
    expect_standard(frame_rule_for(at(rule_probe_frame_pointer_pushed)), false, 16, true, -16);
    // After mov %rsp, %rbp: the CFA follows RBP, wherever RSP goes.
    expect_standard(frame_rule_for(at(rule_probe_frame_pointer_body)), true, 16, true, -16);
    expect_standard(frame_rule_for(at(rule_probe_frame_pointer_body, -1)), true, 16, true, -16);
    // After leave: back on RSP (RBP's rule stays: nothing said otherwise).
    expect_standard(frame_rule_for(at(rule_probe_frame_pointer_epilogue)), false, 8, true, -16);
    // restore_state brings back the body's rule, CFA included.
    expect_standard(frame_rule_for(at(rule_probe_frame_pointer_restored)), true, 16, true, -16);
}

TEST(FrameRule, UndefinedReturnAddressEndsTheStack) {
    EXPECT_EQ(frame_rule_for(at(rule_probe_end_of_stack, 1)).kind, FrameKind::Outermost);
}

TEST(FrameRule, LeavesUnusualFramesToLibunwind) {
    EXPECT_EQ(frame_rule_for(at(rule_probe_signal_frame, 1)).kind, FrameKind::Unsupported);
    EXPECT_EQ(frame_rule_for(at(rule_probe_expression)).kind, FrameKind::Standard);
    EXPECT_EQ(frame_rule_for(at(rule_probe_expression, 1)).kind, FrameKind::Unsupported);
    EXPECT_EQ(frame_rule_for(at(rule_probe_rbp_in_register, 3)).kind, FrameKind::Unsupported);
}

TEST(FrameRule, AddressesOutsideAnyModuleAreUnsupported) {
    std::vector<char> heap(64);
    EXPECT_EQ(frame_rule_for(reinterpret_cast<uint64_t>(heap.data())).kind, FrameKind::Unsupported);
    EXPECT_EQ(frame_rule_for(0x1000).kind, FrameKind::Unsupported);
}

TEST(FrameRule, PacksIntoOneNonzeroWord) {
    const FrameRule rule{FrameKind::Standard, true, true, -24, -(1 << 20)};
    const uint64_t packed = memtrace::preload::pack_frame_rule(rule);
    EXPECT_NE(packed, 0u);
    const FrameRule back = memtrace::preload::unpack_frame_rule(packed);
    EXPECT_EQ(back.kind, rule.kind);
    EXPECT_EQ(back.cfa_from_rbp, rule.cfa_from_rbp);
    EXPECT_EQ(back.rbp_saved, rule.rbp_saved);
    EXPECT_EQ(back.rbp_offset, rule.rbp_offset);
    EXPECT_EQ(back.cfa_offset, rule.cfa_offset);
}

TEST(FrameRuleCache, CachesAndForgetsOnDlclose) {
    ASSERT_TRUE(memtrace::preload::frame_rule_cache_init());
    const uint64_t pc = at(rule_probe_frame_pointer_body);
    const uint64_t first = memtrace::preload::frame_rule_lookup(pc);
    EXPECT_EQ(first, memtrace::preload::pack_frame_rule(frame_rule_for(pc)));
    EXPECT_EQ(memtrace::preload::frame_rule_lookup(pc), first);
    const uint64_t generation = memtrace::preload::g_frame_rule_generation;
    memtrace::preload::frame_rule_cache_forget_modules();
    EXPECT_NE(memtrace::preload::g_frame_rule_generation, generation);
    EXPECT_EQ(memtrace::preload::frame_rule_lookup(pc), first); // read again, same rule
}

} // namespace
