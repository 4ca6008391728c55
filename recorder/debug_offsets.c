#include "debug_offsets.h"

#include <stddef.h>

/* From the 3.14 and 3.15 headers (internal/pycore_debug_offsets.h, and
 * internal/pycore_gil.h for the last column). */
static const rx_layout LAYOUTS[] = {
    {14, 760, 40, 72, 192, 224, 712, 720, 728, 736, 744, 752, 144, 152, 8},
    {15, 888, 40, 72, 192, 248, 840, 848, 856, 864, 872, 880, 144, 152, 8},
};

const rx_layout *rx_layout_for(int major, int minor)
{
    for (size_t i = 0; major == 3 && i < sizeof LAYOUTS / sizeof LAYOUTS[0]; i++)
        if (LAYOUTS[i].minor == minor)
            return &LAYOUTS[i];
    return NULL;
}
