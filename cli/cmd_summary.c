#include "cli.h"

/* Placeholder until this command lands; replaced by its owner. */
int cmd_summary(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_usage_error("summary", "not implemented yet");
}
