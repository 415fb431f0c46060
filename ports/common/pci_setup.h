/* SPDX-License-Identifier: MIT */
/*
 * pci_setup.h - PCI enumeration for the ports: survey what firmware did, number the bridges it left
 * unnumbered, open their windows, and assign every BAR still unassigned (keel_pci_assign_bars), so
 * drivers always find assigned BARs whatever firmware ran (SeaBIOS: all assigned; qboot and AArch64
 * virt: none). Also remembers the bridge path of every bus for INTx swizzling.
 */
#ifndef KEEL_PORT_PCI_SETUP_H
#define KEEL_PORT_PCI_SETUP_H

#include <stdint.h>

#include <keel/hal.h>
#include <keel/port.h>

/**
 * Enumerate `host` (its windows' cursors set to their bases by the caller) and assign what needs
 * assigning. Fills host->nfuncs and the bars_/bridges_ counters. Init context.
 */
int port_pci_setup(const struct keel_hal *hal, struct keel_port_pci_host *host, unsigned index);

/**
 * Follow the INTx swizzle (PCI-to-PCI Bridge 1.2, 9.1) from `bus`/`dev`/`pin` (1 = INTA) up to the
 * host bridge's root bus; return the root-bus device and pin. KEEL_EINVAL for an unknown bus.
 */
int port_pci_intx_root(unsigned index, uint8_t bus, uint8_t dev, uint8_t pin, uint8_t *root_dev,
                       uint8_t *root_pin);

#endif
