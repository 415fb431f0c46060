/* SPDX-License-Identifier: MIT */
/*
 * Replay driver for compilers without libFuzzer (gcc): runs LLVMFuzzerTestOneInput once over every
 * file named on the command line and every regular file inside the directories named there (sorted
 * by name), so the host preset replays the seed corpus and the regression inputs under ASan/UBSan
 * (and the valgrind and big-endian presets under their emulators). Paths that do not exist are
 * skipped. Exits 0 when every input ran (a failing input aborts, as it does under libFuzzer).
 */
#define _POSIX_C_SOURCE 200809L /* scandir */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;

    if (f == NULL) {
        perror(path);
        return -1;
    }
    for (;;) {
        size_t n;
        if (len == cap) {
            uint8_t *nb;
            cap = cap ? cap * 2u : 4096u;
            nb = realloc(buf, cap);
            if (nb == NULL) {
                free(buf);
                fclose(f);
                return -1;
            }
            buf = nb;
        }
        n = fread(buf + len, 1, cap - len, f);
        if (n == 0)
            break;
        len += n;
    }
    fclose(f);
    /* An exact-size copy, so ASan sees a read past the input's end. */
    {
        uint8_t *exact = malloc(len ? len : 1u);
        if (exact == NULL) {
            free(buf);
            return -1;
        }
        if (len)
            memcpy(exact, buf, len);
        free(buf);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        (void)LLVMFuzzerTestOneInput(exact, len);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        fprintf(stderr, "replay %s (%zu bytes, %.3f ms)\n", path, len,
                (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
        free(exact);
    }
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv)
{
    unsigned runs = 0;
    int i;

    for (i = 1; i < argc; i++) {
        struct stat st;
        if (argv[i][0] == '-')
            continue; /* libFuzzer-style options are accepted and ignored */
        if (stat(argv[i], &st) != 0) {
            /* regression/<target>/ exists only once a target had a finding */
            fprintf(stderr, "replay: %s absent, skipped\n", argv[i]);
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            struct dirent **names;
            int n = scandir(argv[i], &names, NULL, by_name), k;
            if (n < 0) {
                perror(argv[i]);
                return 1;
            }
            for (k = 0; k < n; k++) {
                char path[4096];
                struct stat fst;
                snprintf(path, sizeof(path), "%s/%s", argv[i], names[k]->d_name);
                if (stat(path, &fst) == 0 && S_ISREG(fst.st_mode) && names[k]->d_name[0] != '.') {
                    if (run_file(path) != 0)
                        return 1;
                    runs++;
                }
                free(names[k]);
            }
            free(names);
        } else {
            if (run_file(argv[i]) != 0)
                return 1;
            runs++;
        }
    }
    printf("replayed %u input(s)\n", runs);
    return 0;
}
