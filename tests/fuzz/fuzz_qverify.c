/* Fuzz target: qverify's checksum-manifest reader (-c): sha256sum/xxhsum GNU and BSD lines,
 * escaped names, llama-gguf-hash typed lines, FILE:TENSOR and ARCHIVE:MEMBER subjects.
 * tools/qverify.c is compiled into this target with its main renamed, so the static parser
 * is exercised as qverify runs it: the input is a manifest file (a memfd) read by
 * read_manifest(), which also resolves what every line refers to. No file is hashed.
 * Property checked: every parsed whole-file line written back by qverify's own line writer
 * (BSD form, and GNU form where the digest length is unambiguous) parses to the same
 * algorithm, digest and name. */
#include "fuzz_common.h"

#include <stdlib.h>

int qverify_main(int argc, char **argv);
#define main qverify_main
#include "../../tools/qverify.c"
#undef main

static void reset(void)
{
    for (size_t i = 0; i < ML_n; i++) {
        free(ML[i].name);
        free(ML[i].file);
        free(ML[i].tensor);
        free(ML[i].why);
    }
    free(ML);
    ML = NULL;
    ML_n = ML_cap = ML_printed = 0;
    for (size_t i = 0; i < CF_n; i++) {
        free(CF[i]->path);
        free(CF[i]);
    }
    free(CF);
    CF = NULL;
    CF_n = CF_cap = 0;
    free(MF);
    MF = NULL;
    MF_n = 0;
}

/* Write line l back as qverify would and parse it again. */
static void round_trip(const struct mline *l, int tag)
{
    size_t sz = qf_hash_size(l->alg);
    char hex[2 * QF_HASH_MAX_DIGEST + 1];
    uint8_t d[QF_HASH_MAX_DIGEST];
    memcpy(d, l->digest, sz);
    qf_hash_tohex(d, sz, hex);
    char *text = NULL;
    size_t tlen = 0;
    FILE *f = open_memstream(&text, &tlen);
    if (!f)
        return;
    put_sum_line(f, l->alg, hex, l->name, tag);
    fclose(f);
    struct mline back;
    int r = parse_line(text, &back);
    if (r != 1 || back.alg != l->alg || back.kind != LK_WHOLE || back.le ||
        memcmp(back.digest, l->digest, sz) != 0 || strcmp(back.name, l->name) != 0) {
        fprintf(stderr, "manifest line does not survive a round trip: '%s' (parse %d)\n", text,
                r);
        abort();
    }
    free(back.name);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    if (!quiet) {
        cli_level = 0; /* no "improperly formatted" chatter */
        quiet = 1;
    }
    char path[64];
    int fd = fuzz_memfd(data, size, path);
    if (fd < 0)
        return 0;
    MF = xcalloc(1, sizeof *MF);
    MF_n = 1;
    MF[0].path = path;
    if (read_manifest(0) == 0) {
        for (size_t i = 0; i < ML_n; i++) {
            const struct mline *l = &ML[i];
            if (!l->cf || !l->file)
                abort(); /* every line must refer to some file */
            if (l->typed || l->le || !l->name[0] || !l->alg)
                continue;
            round_trip(l, 1);
            if (l->alg != QF_HASH_XXH32 && l->alg != QF_HASH_CRC32 && l->alg != QF_HASH_XXH3_64)
                round_trip(l, 0);
        }
    }
    reset();
    close(fd);
    return 0;
}
