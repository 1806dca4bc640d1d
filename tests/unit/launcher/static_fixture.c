/* Linked with -static (and -static-pie) by meson.build: memtrace run must refuse it. */
int main(void) {
    return 0;
}
