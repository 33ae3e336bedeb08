/* cli/cmd_tokenize.c — `sinkscope tokenize`: text through a checkpoint's tokenizer.json. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tokenizer/tokenizer.h"
#include "cli.h"
#include "../common/readfile.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sinkscope tokenize -m DIR|tokenizer.json (-p TEXT | -f FILE) [--ids | --pieces | --json] [--lossy]\n"
            "  -m, --model PATH   checkpoint directory (its tokenizer.json) or a tokenizer.json file\n"
            "  -p, --prompt TEXT  text to tokenize\n"
            "  -f, --file FILE    read the text from FILE (one trailing newline is stripped)\n"
            "      --ids          print only the ids, space-separated, on one line\n"
            "      --pieces       print one token per line as a JSON string (its decoded text)\n"
            "      --json         print {\"ids\": [...], \"pieces\": [...]}\n"
            "      --lossy        replace invalid UTF-8 with U+FFFD instead of failing\n"
            "default output: one line per token: position, id, piece as a JSON string.\n"
            "No BOS is added: Qwen tokenizers add none; see `run --bos`.\n");
}

static json_t *piece_json(const struct tokenizer *tk, int32_t id)
{
    size_t len;
    char *p = tokenizer_piece_len(tk, id, &len);
    json_t *j = json_stringn(p ? p : "", p ? len : 0);
    free(p);
    return j;
}

static void print_json_string(json_t *s)
{
    char *d = json_dumps(s, JSON_ENCODE_ANY);
    fputs(d ? d : "\"\"", stdout);
    free(d);
}

static int print_tokens(const struct tokenizer *tk, const int32_t *ids, int n, int mode)
{
    if (mode == 'i') {
        for (int i = 0; i < n; i++)
            printf(i ? " %d" : "%d", (int)ids[i]);
        printf("\n");
    } else if (mode == 'j') {
        json_t *o = json_object(), *ji = json_array(), *jp = json_array();
        for (int i = 0; i < n; i++) {
            json_array_append_new(ji, json_integer(ids[i]));
            json_array_append_new(jp, piece_json(tk, ids[i]));
        }
        json_object_set_new(o, "ids", ji);
        json_object_set_new(o, "pieces", jp);
        char *d = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        if (!d)
            return EXIT_CODE_INTERNAL;
        printf("%s\n", d);
        free(d);
    } else {
        for (int i = 0; i < n; i++) {
            json_t *s = piece_json(tk, ids[i]);
            if (mode == 't')
                printf("%d\t%d\t", i, (int)ids[i]);
            print_json_string(s);
            printf("\n");
            json_decref(s);
        }
    }
    return fflush(stdout) ? EXIT_CODE_BAD_INPUT : EXIT_CODE_OK;
}

int cmd_tokenize(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'}, {"prompt", required_argument, NULL, 'p'},
        {"file", required_argument, NULL, 'f'},  {"ids", no_argument, NULL, 'i'},
        {"pieces", no_argument, NULL, 'P'},      {"json", no_argument, NULL, 'j'},
        {"lossy", no_argument, NULL, 'l'},       {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *model = NULL, *prompt = NULL, *file = NULL;
    int mode = 't', lossy = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:p:f:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'p': prompt = optarg; break;
        case 'f': file = optarg; break;
        case 'i': case 'P': case 'j':
            if (mode != 't')
                return cli_usage_error("tokenize", "--ids, --pieces and --json exclude each other");
            mode = c;
            break;
        case 'l': lossy = 1; break;
        case 'h': usage(stdout); return EXIT_CODE_OK;
        default: return cli_option_error("tokenize", c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error("tokenize", "unexpected argument '%s'", argv[optind]);
    if (!model)
        return cli_usage_error("tokenize", "-m DIR|tokenizer.json is required");
    if (!prompt == !file)
        return cli_usage_error("tokenize", "give exactly one of -p TEXT and -f FILE");

    struct ss_error err = {0};
    char *text = NULL;
    size_t len;
    if (file) {
        if (readfile_all(file, READFILE_LIMIT_TEXT, "prompt file", &text, &len, &err))
            return cli_report(&err);
        if (len && text[len - 1] == '\n') /* one trailing newline dropped, as llama.cpp does for -f */
            text[--len] = 0;
    } else {
        len = strlen(prompt);
    }
    struct tokenizer *tk = NULL;
    int32_t *ids = NULL;
    int n = 0, rc;
    if (tokenizer_load(&tk, model, &err))
        rc = cli_report(&err);
    else if (tokenizer_encode(tk, text ? text : prompt, len, lossy, &ids, &n, &err)) {
        if (file)
            ss_prefix(&err, "%s", file);
        rc = cli_report(&err);
    } else
        rc = print_tokens(tk, ids, n, mode);
    free(ids);
    free(text);
    tokenizer_free(tk);
    return rc;
}
