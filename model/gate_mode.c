/* model/gate_mode.c — "native" | "off" | "constant=X" for counterfactual runs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

int gate_mode_parse(struct gate_mode *g, const char *s)
{
    if (!s)
        return -1;
    if (!strcmp(s, "native")) {
        g->kind = GATE_MODE_NATIVE;
        g->value = 0;
        return 0;
    }
    if (!strcmp(s, "off")) {
        g->kind = GATE_MODE_OFF;
        g->value = 1;
        return 0;
    }
    if (!strncmp(s, "constant=", 9) && s[9]) {
        char *end;
        float v = strtof(s + 9, &end);
        if (*end || !isfinite(v))
            return -1;
        g->kind = GATE_MODE_CONSTANT;
        g->value = v;
        return 0;
    }
    return -1;
}
