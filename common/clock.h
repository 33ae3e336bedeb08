/* common/clock.h — wall time for measurements and time limits. */
#ifndef SS_COMMON_CLOCK_H
#define SS_COMMON_CLOCK_H

/* Seconds on the monotonic clock (an arbitrary origin: use differences). */
double clock_now_s(void);

#endif
