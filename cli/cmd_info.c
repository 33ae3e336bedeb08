#include "cli.h"

/* Placeholder until this command lands; replaced by its owner. */
int cmd_info(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_usage_error("info", "not implemented yet");
}
