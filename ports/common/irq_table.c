/* SPDX-License-Identifier: MIT */
/* irq_table.c - interrupt handle slots shared by the ports' interrupt controller drivers. */
#include "irq_table.h"
#include "port_internal.h"

static struct port_irq_slot slots[PORT_IRQ_SLOTS];

uint32_t port_irq_slot_alloc(enum keel_irq_kind kind, uint32_t line, uint32_t input, uint32_t flags,
                             keel_irq_fn fn, void *arg)
{
    uintptr_t st = port_arch_irq_save();
    uint32_t i;

    for (i = 0; i < PORT_IRQ_SLOTS; i++) {
        if (!slots[i].used) {
            slots[i] = (struct port_irq_slot){.used = true,
                                              .masked = true,
                                              .kind = kind,
                                              .line = line,
                                              .input = input,
                                              .flags = flags,
                                              .fn = fn,
                                              .arg = arg};
            port_arch_irq_restore(st);
            return i + 1u;
        }
    }
    port_arch_irq_restore(st);
    return 0;
}

struct port_irq_slot *port_irq_slot_get(uint32_t handle)
{
    if (handle == 0u || handle > PORT_IRQ_SLOTS || !slots[handle - 1u].used)
        return NULL;
    return &slots[handle - 1u];
}

void port_irq_slot_free(uint32_t handle)
{
    struct port_irq_slot *s = port_irq_slot_get(handle);
    uintptr_t st;

    if (s == NULL)
        return;
    st = port_arch_irq_save();
    s->used = false;
    s->fn = NULL;
    port_arch_irq_restore(st);
}

unsigned port_irq_line_users(uint32_t line, bool unmasked_only)
{
    unsigned i, n = 0;

    for (i = 0; i < PORT_IRQ_SLOTS; i++)
        if (slots[i].used && slots[i].line == line && !(unmasked_only && slots[i].masked))
            n++;
    return n;
}

unsigned port_irq_dispatch(uint32_t line)
{
    unsigned i, ran = 0;

    for (i = 0; i < PORT_IRQ_SLOTS; i++) {
        struct port_irq_slot *s = &slots[i];
        if (!s->used || s->line != line)
            continue;
        s->count++;
        /* A masked MSI is dropped here: the HAL contract allows losing edges while masked. */
        if (s->masked || s->fn == NULL)
            continue;
        s->fn(s->arg);
        ran++;
    }
    return ran;
}

uint32_t port_irq_line_count(uint32_t line)
{
    uint32_t i, n = 0;

    for (i = 0; i < PORT_IRQ_SLOTS; i++)
        if (slots[i].used && slots[i].line == line)
            n += slots[i].count;
    return n;
}
