#include "cli.h"

/* Placeholder until this command lands; replaced by its owner. */
int cmd_tokenize(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_usage_error("tokenize", "not implemented yet");
}
