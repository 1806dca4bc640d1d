// Loads the plugin given as argv[1], calls plugin_leak() (2 x 777 bytes leaked), unloads the
// plugin and checks that it really is gone before exiting 0.
#include "program_io.h"

#include <dlfcn.h>

int main(int argc, char** argv) {
    if (argc != 2) return 2;
    void* plugin = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (plugin == NULL) return 10;
    void (*plugin_leak)(void) = (void (*)(void))dlsym(plugin, "plugin_leak");
    if (plugin_leak == NULL) return 11;
    plugin_leak();
    if (dlclose(plugin) != 0) return 12;
    // RTLD_NOLOAD succeeds only if the object is still mapped: the test must see an unload.
    void* still_loaded = dlopen(argv[1], RTLD_NOW | RTLD_NOLOAD);
    if (still_loaded != NULL) {
        say("plugin still loaded after dlclose\n");
        return 13;
    }
    return 0;
}
