#include "fixture.h"

void fixture_capture(int call_line, CallSite* site) {
    site->line = call_line;
    site->return_address = __builtin_return_address(0);
}
