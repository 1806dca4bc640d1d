// Fatal signals: record which one ended the process, then let it end the process as it would
// have. Installed only where the app kept the default disposition: memtrace never takes a
// signal the app handles itself.
#pragma once

namespace memtrace::preload {

void install_fatal_signal_handlers();

} // namespace memtrace::preload
