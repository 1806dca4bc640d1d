// Heap work outside main. In order of execution:
//   static constructor of `registry`: 3 x 48 bytes held (freed by its destructor) and
//                                     1 x 50 bytes leaked from leak_in_constructor()
//   main:                             1 x 60 bytes held (freed by the atexit handler),
//                                     registers release_at_exit with atexit()
//   release_at_exit (atexit):         frees the 60 bytes, leaks 1 x 90 from leak_in_atexit()
//   ~Registry (static destructor):    frees the 3 x 48, leaks 1 x 70 from leak_in_destructor()
// Live at exit: 50 + 70 + 90 bytes in 3 blocks. 7 allocations, 4 frees.
// malloc is used rather than new, so every frame 0 is one of these functions.
#include <cstdlib>

void* volatile kept[3];
void* volatile main_block;

__attribute__((noinline)) void* leak_in_constructor() {
    return std::malloc(50); /* site: leak_in_constructor */
}

__attribute__((noinline)) void* leak_in_destructor() {
    return std::malloc(70); /* site: leak_in_destructor */
}

__attribute__((noinline)) void* leak_in_atexit() {
    return std::malloc(90); /* site: leak_in_atexit */
}

struct Registry {
    void* entries[3];

    Registry() {
        for (void*& entry : entries)
            entry = std::malloc(48);
        kept[0] = leak_in_constructor();
    }
    ~Registry() {
        for (void* entry : entries)
            std::free(entry);
        kept[1] = leak_in_destructor();
    }
};

Registry registry;

static void release_at_exit() {
    std::free(main_block);
    kept[2] = leak_in_atexit();
}

int main() {
    main_block = std::malloc(60);
    if (std::atexit(release_at_exit) != 0) return 2;
    return 0;
}
