/* The program: everything is in cli_main so tests can call commands in-process. */
#include "cli.h"

int main(int argc, char **argv)
{
    return cli_main(argc, argv);
}
