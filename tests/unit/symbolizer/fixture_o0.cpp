// Built with -O0 -g: a call inside a method of a class inside a namespace.
#include "fixture.h"

namespace fixture {

void Widget::locate(CallSite* site) const {
    fixture_capture(__LINE__, site);
}

} // namespace fixture

void fixture_o0_locate(CallSite* site) {
    const fixture::Widget widget;
    widget.locate(site);
}
