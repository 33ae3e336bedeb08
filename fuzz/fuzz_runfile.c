/* fuzz/fuzz_runfile.c — run files (HDF5) through the reader used by analyze
 * and plot: runfile_open, the whole analyze_run_load (every dataset the summary
 * reads), the summary in every format, token text and attention slabs. */
#include <stdint.h>
#include <stdlib.h>

#include "../analyze/analyze.h"
#include "../runfile/runfile.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[300];
    snprintf(path, sizeof path, "%s/run.h5", fuzz_dir("run"));
    fuzz_write(path, data, size);
    static FILE *devnull;
    if (!devnull)
        devnull = fopen("/dev/null", "w");

    struct analyze_run r;
    struct ss_error err = {0};
    enum ss_status st = analyze_run_load(&r, path, NULL, &err);
    fuzz_check_error(st, &err);
    if (st == SS_OK) {
        for (int f = ANALYZE_FORMAT_TEXT; f <= ANALYZE_FORMAT_LATEX; f++) {
            struct ss_error e2 = {0};
            fuzz_check_error(analyze_summary(devnull, &r, 1, 1, (enum analyze_format)f, &e2), &e2);
        }
        analyze_run_free(&r);
    }

    struct runfile *rf = NULL;
    st = runfile_open(&rf, path, &err);
    fuzz_check_error(st, &err);
    if (st != SS_OK)
        return 0;
    char **text = NULL;
    int n = 0;
    struct ss_error e3 = {0};
    if (runfile_token_text(rf, 0, &text, &n, &e3) == SS_OK)
        runfile_strings_free(text, n);
    fuzz_check_error(e3.status, &e3);
    int nd = 0;
    int64_t shape[4];
    if (runfile_shape(rf, "/attention/layer_00", &nd, shape, &e3) == SS_OK && nd == 4) {
        int64_t start[4] = {0, 0, 0, 0}, count[4] = {1, 1, shape[2], shape[3]};
        struct rf_array a = {0};
        if (shape[0] > 0 && shape[1] > 0 && shape[2] * shape[3] <= (1 << 20) &&
            runfile_read_slab(rf, "/attention/layer_00", start, count, &a, &e3) == SS_OK)
            rf_array_free(&a);
    }
    char buf[256];
    (void)runfile_attr_string(rf, NULL, "schema", buf, sizeof buf, &e3);
    runfile_close(rf);
    return 0;
}
