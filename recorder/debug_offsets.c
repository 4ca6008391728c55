#include "debug_offsets.h"

#include <stddef.h>

/* From the 3.13 headers (internal/pycore_runtime.h), the 3.14 and 3.15 ones
 * (internal/pycore_debug_offsets.h), internal/pycore_gil.h for
 * gil_switches_after_locked and cpython/unicodeobject.h for the last column. */
static const rx_layout LAYOUTS[] = {
    {13, 584, 40, 72, 168, 200, 0, 0, 0, 0, 0, 0, 136, 144, 8,
     192, 184, 232, 240, 248, 264, 280, 288, 304, 312, 344, 360, 376, 520, 528, 544, 552, 560, 56},
    {14, 760, 40, 72, 192, 224, 712, 720, 728, 736, 744, 752, 144, 152, 8,
     216, 208, 256, 264, 272, 288, 320, 328, 344, 352, 384, 408, 424, 600, 608, 624, 632, 640, 56},
    {15, 888, 40, 72, 192, 248, 840, 848, 856, 864, 872, 880, 144, 152, 8,
     240, 208, 320, 328, 336, 352, 384, 392, 408, 416, 448, 472, 488, 696, 704, 720, 728, 736, 56},
};

const rx_layout *rx_layout_for(int major, int minor)
{
    for (size_t i = 0; major == 3 && i < sizeof LAYOUTS / sizeof LAYOUTS[0]; i++)
        if (LAYOUTS[i].minor == minor)
            return &LAYOUTS[i];
    return NULL;
}
