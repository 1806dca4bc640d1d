// Linked with -static: LD_PRELOAD cannot work on it and memtrace run must say so.
int main(void) {
    return 0;
}
