#include "cli.h"

/* Placeholder until this command lands; replaced by its owner. */
int cmd_compare(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_usage_error("compare", "not implemented yet");
}
