#include "cli.h"

/* Placeholder until this command lands; replaced by its owner. */
int cmd_run(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_usage_error("run", "not implemented yet");
}
