/* Workload "gcc": the translation unit that `gcc -O2 -c` compiles. It is real, widely used C
 * code shipped by Debian's libstb-dev: the stb_image decoder (JPEG, PNG, GIF, BMP, PSD, ...;
 * about 7,900 lines). The quick run defines BENCH_QUICK and compiles the smaller stb_image_write
 * encoder (about 1,700 lines) instead. */
#ifdef BENCH_QUICK
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
#else
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>
#endif
