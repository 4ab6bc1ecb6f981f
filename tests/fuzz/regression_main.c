/* Replays a fuzz target over corpus files or directories without libFuzzer, so every crasher
 * kept under tests/fuzz/corpus/<target>/ is re-run by `make check` (built with any compiler,
 * and under ASan/UBSan by `make sanitize`). Prints "<target>: N passed, 0 failed". */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        perror(path);
        return -1;
    }
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 65536;
            uint8_t *q = realloc(buf, cap);
            if (!q) {
                free(buf);
                fclose(fp);
                return -1;
            }
            buf = q;
        }
        size_t r = fread(buf + len, 1, cap - len, fp);
        if (r == 0)
            break;
        len += r;
    }
    fclose(fp);
    LLVMFuzzerTestOneInput(buf, len);
    free(buf);
    return 0;
}

static int cmpstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    long n = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            continue; /* a target without a corpus yet */
        }
        if (!S_ISDIR(st.st_mode)) {
            bad += run_file(argv[i]) != 0;
            n++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        if (!d)
            continue;
        char **names = NULL;
        size_t k = 0, cap = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            if (k == cap) {
                cap = cap ? cap * 2 : 64;
                names = realloc(names, cap * sizeof *names);
            }
            size_t l = strlen(argv[i]) + strlen(e->d_name) + 2;
            names[k] = malloc(l);
            snprintf(names[k], l, "%s/%s", argv[i], e->d_name);
            k++;
        }
        closedir(d);
        qsort(names, k, sizeof *names, cmpstr);
        for (size_t j = 0; j < k; j++) {
            bad += run_file(names[j]) != 0;
            n++;
            free(names[j]);
        }
        free(names);
    }
    const char *self = strrchr(argv[0], '/');
    printf("%s: %ld passed, %ld failed\n", self ? self + 1 : argv[0], n - bad, bad);
    return bad ? 1 : 0;
}
