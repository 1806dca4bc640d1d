// Built with -O2 -g: the captured call lies in code inlined from a helper.
#include "fixture.h"

namespace fixture {

static inline __attribute__((always_inline)) void inline_helper(InlineSites* sites,
                                                                int outer_line) {
    sites->outer_line = outer_line;
    fixture_capture(__LINE__, &sites->helper);
    // Code after the call keeps it from becoming a tail call (which would lose the frame).
    asm volatile("" ::: "memory");
}

} // namespace fixture

void fixture_inline_locate(InlineSites* sites) {
    fixture::inline_helper(sites, __LINE__);
}
