/* SPDX-License-Identifier: MIT */
/* Internal to core's PCI helpers: shared between pci_bar.c and pci_msix.c, not part of the API. */
#ifndef KEEL_PCI_INTERNAL_H
#define KEEL_PCI_INTERNAL_H

#include <keel/pci.h>

/*
 * Map `size` bytes of CPU physical address `phys` (is_io: an I/O BAR's range) into `out` through
 * the HAL's io_map, or identity when io_map is NULL. KEEL_ERANGE when the range does not fit the
 * CPU's addresses, KEEL_ENOTSUP when it would need port I/O hooks the HAL lacks. Init context.
 */
int keel_pci_map_phys(const struct keel_hal *hal, uint64_t phys, uint64_t size, bool is_io,
                      struct keel_region *out);

#endif
