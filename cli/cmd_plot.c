#include "cli.h"

/* Placeholder until this command lands; replaced by its owner. */
int cmd_plot(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_usage_error("plot", "not implemented yet");
}
