// Workload "growing heap": the heap only grows for most of the run. It builds a chained hash
// table of NODES small nodes (a quarter of them own a separate small name string), so millions
// of blocks are live at the peak, walks it, then frees everything in bucket order (not in
// allocation order). Fixed work for a given NODES.
//
// usage: growing_heap NODES
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct Node {
    struct Node* next;
    uint64_t key;
    char* name;      // NULL for three nodes in four
    uint32_t length; // bytes of payload
    unsigned char payload[];
};

static uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

int main(int argc, char** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s NODES\n", argv[0]);
        return 2;
    }
    unsigned long nodes = strtoul(argv[1], NULL, 10);
    size_t bucket_count = 1;
    while (bucket_count < nodes / 4)
        bucket_count <<= 1;
    struct Node** buckets = calloc(bucket_count, sizeof *buckets);
    if (buckets == NULL) return 1;

    for (unsigned long i = 0; i < nodes; ++i) {
        uint64_t key = mix(i + 1);
        uint32_t length = 8 + (uint32_t)(key % 41); // node blocks of 40..88 bytes
        struct Node* node = malloc(sizeof *node + length);
        if (node == NULL) return 1;
        node->key = key;
        node->length = length;
        memset(node->payload, (int)(key & 0xff), length);
        node->name = NULL;
        if ((key & 3) == 0) {
            node->name = malloc(24);
            if (node->name == NULL) return 1;
            snprintf(node->name, 24, "n%lu", i);
        }
        size_t bucket = key & (bucket_count - 1);
        node->next = buckets[bucket];
        buckets[bucket] = node;
    }

    uint64_t checksum = 0;
    for (size_t b = 0; b < bucket_count; ++b)
        for (struct Node* n = buckets[b]; n != NULL; n = n->next)
            checksum += n->payload[n->length - 1] + (n->name != NULL ? (uint64_t)n->name[1] : 0);

    for (size_t b = 0; b < bucket_count; ++b) {
        struct Node* n = buckets[b];
        while (n != NULL) {
            struct Node* next = n->next;
            free(n->name);
            free(n);
            n = next;
        }
    }
    free(buckets);
    printf("growing_heap checksum %llu\n", (unsigned long long)checksum);
    return 0;
}
