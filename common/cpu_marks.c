#include "cpu_marks.h"

int64_t pk_cpu_since(pk_cpu_marks *m, uint64_t id, int64_t cpu)
{
    if (cpu < 0)
        return -1;
    for (size_t i = 0; i < m->n; i++)
        if (m->t[i].id == id) {
            int64_t d = cpu - m->t[i].cpu;
            m->t[i].cpu = cpu;
            return d;
        }
    if (m->n < PK_CPU_MARKS) {
        m->t[m->n].id = id;
        m->t[m->n].cpu = cpu;
        m->n++;
    }
    return -1;
}
