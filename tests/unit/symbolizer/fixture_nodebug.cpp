// Built without debug info: only the ELF symbol table can name fixture::Gadget::spot.
#include "fixture.h"

namespace fixture {

void Gadget::spot(CallSite* site) {
    fixture_capture(0, site);
}

} // namespace fixture

void fixture_nodebug_locate(CallSite* site) {
    fixture::Gadget::spot(site);
}
