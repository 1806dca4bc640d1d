// Interface of the small libraries the symbolizer test dlopen()s. Each entry point captures a
// return address inside a known function along with the source line of that call.
#pragma once

extern "C" {

struct CallSite {
    void* return_address;
    int line; // the line of the call that return_address returns to
};

struct InlineSites {
    CallSite helper; // the call inside the always_inline helper
    int outer_line;  // where the outer function calls the helper
};

// fixture_o0.cpp (-O0 -g): a call inside fixture::Widget::locate.
void fixture_o0_locate(CallSite* site);

// fixture_inline.cpp (-O2 -g): a call inside an always_inline helper inlined into
// fixture_inline_locate.
void fixture_inline_locate(InlineSites* sites);

// fixture_nodebug.cpp (no -g): a call inside fixture::Gadget::spot.
void fixture_nodebug_locate(CallSite* site);

// fixture_capture.cpp, hidden in each library: records its own return address, which lies in
// the caller just after the call. A separate translation unit keeps the compiler from
// inlining or cloning it. Callers make it the last code of its line, so that a symbolizer
// that forgets to step back from the return address names the wrong line.
__attribute__((visibility("hidden"))) void fixture_capture(int call_line, CallSite* site);
}

namespace fixture {

class Widget {
public:
    void locate(CallSite* site) const;
};

class Gadget {
public:
    static void spot(CallSite* site);
};

} // namespace fixture
