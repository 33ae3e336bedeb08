/* cli/signals.c — SIGINT/SIGTERM as a flag for the commands that work long or write
 * files (run, plot): the library polls the flag, stops, removes its temporaries and
 * returns SS_ERR_INTERRUPTED, so a signal never leaves a half-written file or a
 * temporary directory behind. SIGXFSZ is ignored so a file-size limit makes write()
 * fail cleanly instead of killing the process. */
#include <signal.h>
#include <string.h>

#include "cli.h"

static volatile sig_atomic_t stop_flag;
static struct sigaction old_int, old_term, old_xfsz;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

volatile sig_atomic_t *cli_signals_catch(void)
{
    struct sigaction sa, ign;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    stop_flag = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGXFSZ, &ign, &old_xfsz);
    return &stop_flag;
}

void cli_signals_restore(void)
{
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGXFSZ, &old_xfsz, NULL);
}
