/* SPDX-License-Identifier: MIT */
/*
 * irq_table.h - the ports' interrupt handles: one slot per irq_attach, keyed by the controller's
 * line (an x86 vector, a GIC INTID). Several slots may share a line (PCI INTx is shared); the
 * dispatcher calls every unmasked handler on the line. Handles are slot index + 1, so 0 is never a
 * valid handle.
 */
#ifndef KEEL_PORT_IRQ_TABLE_H
#define KEEL_PORT_IRQ_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include <keel/hal.h>

#define PORT_IRQ_SLOTS 64

struct port_irq_slot {
    bool used;
    bool masked;
    enum keel_irq_kind kind;
    uint32_t line;  /* controller line: x86 vector, GIC INTID */
    uint32_t input; /* controller input: IOAPIC pin (GSI), GIC INTID; unused for x86 MSI */
    uint32_t flags; /* KEEL_IRQ_F_* */
    keel_irq_fn fn;
    void *arg;
    uint32_t count; /* deliveries, for diagnostics */
};

/** Claim a slot (starts masked). Returns the handle, or 0 when the table is full. Init context. */
uint32_t port_irq_slot_alloc(enum keel_irq_kind kind, uint32_t line, uint32_t input, uint32_t flags,
                             keel_irq_fn fn, void *arg);

/** The slot behind `handle`, or NULL when it is not a live handle. */
struct port_irq_slot *port_irq_slot_get(uint32_t handle);

/** Release `handle`'s slot. Init context, interrupts for the line already quiet. */
void port_irq_slot_free(uint32_t handle);

/** Slots (live, whatever their mask) on `line`; with `unmasked_only`, only unmasked ones. */
unsigned port_irq_line_users(uint32_t line, bool unmasked_only);

/** Call every unmasked handler on `line`; returns how many ran. Interrupt context. */
unsigned port_irq_dispatch(uint32_t line);

/** Total deliveries on `line` so far. */
uint32_t port_irq_line_count(uint32_t line);

#endif
