/* tokenizer/tokenizer_config.c — tokenizer_config.json beside tokenizer.json: bos_token, eos_token
 * (a string or an AddedToken object) and add_bos_token. When add_bos_token is absent, the
 * post_processor's TemplateProcessing decides (Llama 3 prepends <|begin_of_text|> there). */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tokenizer.h"
#include "tokenizer_impl.h"
#include "../common/readfile.h"

static int32_t token_of(const struct tokenizer *tk, const json_t *v)
{
    if (json_is_object(v))
        v = json_object_get(v, "content");
    const char *s = json_string_value(v);
    return s ? tokenizer_token_id(tk, s) : -1;
}

/* The id of the special token a TemplateProcessing "single" template starts with, or -1. */
static int32_t template_bos(const json_t *post)
{
    const char *type = json_string_value(json_object_get(post, "type"));
    if (!type)
        return -1;
    if (!strcmp(type, "Sequence")) {
        const json_t *list = json_object_get(post, "processors");
        for (size_t i = 0; i < json_array_size(list); i++) {
            int32_t id = template_bos(json_array_get(list, i));
            if (id >= 0)
                return id;
        }
        return -1;
    }
    if (strcmp(type, "TemplateProcessing"))
        return -1;
    const json_t *first = json_array_get(json_object_get(post, "single"), 0);
    const char *name = json_string_value(json_object_get(json_object_get(first, "SpecialToken"), "id"));
    if (!name)
        return -1;
    const json_t *ids = json_object_get(json_object_get(json_object_get(post, "special_tokens"), name), "ids");
    const json_t *id = json_array_get(ids, 0);
    return json_is_integer(id) ? (int32_t)json_integer_value(id) : -1;
}

enum ss_status tokenizer_config_load(struct tokenizer *tk, const json_t *post, struct ss_error *err)
{
    char path[PATH_MAX + 32];
    const char *slash = strrchr(tk->path, '/');
    if (slash)
        snprintf(path, sizeof path, "%.*s/tokenizer_config.json", (int)(slash - tk->path), tk->path);
    else
        snprintf(path, sizeof path, "tokenizer_config.json");
    int32_t tmpl = template_bos(post);
    if (access(path, F_OK)) {
        tk->default_bos = tmpl;
        return SS_OK;
    }
    json_error_t je;
    /* Llama 3 files say "model_max_length": 1000000000000000019884624838656, beyond 64 bits: read
     * integers as doubles (no field read here is a number) instead of refusing the file */
    char *text;
    size_t len;
    enum ss_status rs = readfile_all(path, READFILE_LIMIT_JSON, "tokenizer config", &text, &len, err);
    if (rs)
        return rs;
    json_t *root = json_loadb(text, len, JSON_DECODE_INT_AS_REAL, &je);
    free(text);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return ss_fail(err, SS_ERR_INPUT, "%s: not a valid JSON object: %s (line %d)", path, root ? "" : je.text,
                       root ? 0 : je.line);
    }
    tk->bos_id = token_of(tk, json_object_get(root, "bos_token"));
    tk->eos_id = token_of(tk, json_object_get(root, "eos_token"));
    const json_t *add = json_object_get(root, "add_bos_token");
    if (json_is_boolean(add))
        tk->default_bos = json_is_true(add) ? (tk->bos_id >= 0 ? tk->bos_id : tmpl) : -1;
    else
        tk->default_bos = tmpl;
    /* add_bos_token: true promises a BOS; silently running without one changes every statistic */
    if (json_is_true(add) && tk->default_bos < 0) {
        const json_t *b = json_object_get(root, "bos_token");
        const char *name = json_is_string(b) ? json_string_value(b)
                           : json_string_value(json_object_get(b, "content"));
        enum ss_status st = ss_fail(err, SS_ERR_INPUT, "%s: add_bos_token is true but bos_token '%.60s' is not "
                                    "a token of the vocabulary (nor does the post-processor name one)", path,
                                    name ? name : "(none)");
        json_decref(root);
        return st;
    }
    json_decref(root);
    return SS_OK;
}
