/* SPDX-License-Identifier: MIT */
/*
 * PCI configuration access, enumeration, the command register and the capability walk
 * (PCI Local Bus 3.0 chapter 6; PCIe base 7.5.1 for the type 0/1 header).
 */
#include <keel/error.h>
#include <keel/keel_config.h>
#include <keel/pci.h>

#define PCI_HEADER_MF        0x80u /* header type bit 7: multi-function device */
#define PCI_HEADER_TYPE_MASK 0x7fu /* layout: 0 endpoint, 1 PCI bridge, 2 CardBus bridge */
#define PCI_CAP_FIRST        0x40u /* capabilities live after the 64-byte header */
#define PCI_MAX_DEV          32u
#define PCI_MAX_FN           8u

static bool cfg_args_ok(uint16_t off, uint8_t width)
{
    if (width != 1u && width != 2u && width != 4u)
        return false;
    return (off & (width - 1u)) == 0u && off < 4096u;
}

int keel_pci_read(const struct keel_hal *hal, struct keel_pci_addr a, uint16_t off, uint8_t width,
                  uint32_t *val)
{
    if (hal == NULL || val == NULL || !cfg_args_ok(off, width))
        return KEEL_EINVAL;
    if (hal->ops->pci_cfg_read == NULL)
        return KEEL_ENOTSUP;
    return hal->ops->pci_cfg_read(hal->ctx, a, off, width, val);
}

int keel_pci_write(const struct keel_hal *hal, struct keel_pci_addr a, uint16_t off, uint8_t width,
                   uint32_t val)
{
    if (hal == NULL || !cfg_args_ok(off, width))
        return KEEL_EINVAL;
    if (hal->ops->pci_cfg_write == NULL)
        return KEEL_ENOTSUP;
    return hal->ops->pci_cfg_write(hal->ctx, a, off, width, val);
}

/* The sized readers answer all-ones on failure, as an absent function would. */
uint8_t keel_pci_read8(const struct keel_hal *hal, struct keel_pci_addr a, uint16_t off)
{
    uint32_t v;
    return keel_pci_read(hal, a, off, 1, &v) == KEEL_OK ? (uint8_t)v : 0xffu;
}

uint16_t keel_pci_read16(const struct keel_hal *hal, struct keel_pci_addr a, uint16_t off)
{
    uint32_t v;
    return keel_pci_read(hal, a, off, 2, &v) == KEEL_OK ? (uint16_t)v : 0xffffu;
}

uint32_t keel_pci_read32(const struct keel_hal *hal, struct keel_pci_addr a, uint16_t off)
{
    uint32_t v;
    return keel_pci_read(hal, a, off, 4, &v) == KEEL_OK ? v : 0xffffffffu;
}

int keel_pci_probe_fn(const struct keel_hal *hal, struct keel_pci_addr a, struct keel_pci_fn *out)
{
    uint32_t id, class_rev, hdr;
    int rc;

    if (out == NULL)
        return KEEL_EINVAL;
    rc = keel_pci_read(hal, a, KEEL_PCI_VENDOR_ID, 4, &id);
    if (rc != KEEL_OK)
        return rc;
    /* All-ones is "nobody answered"; vendor 0 is not a valid vendor either. */
    if ((id & 0xffffu) == 0xffffu || (id & 0xffffu) == 0u)
        return KEEL_ENODEV;
    rc = keel_pci_read(hal, a, KEEL_PCI_REVISION, 4, &class_rev);
    if (rc == KEEL_OK)
        rc = keel_pci_read(hal, a, KEEL_PCI_HEADER_TYPE, 1, &hdr);
    if (rc != KEEL_OK)
        return rc;
    out->addr = a;
    out->vendor = (uint16_t)id;
    out->device = (uint16_t)(id >> 16);
    out->revision = (uint8_t)class_rev;
    out->prog_if = (uint8_t)(class_rev >> 8);
    out->subclass = (uint8_t)(class_rev >> 16);
    out->class_code = (uint8_t)(class_rev >> 24);
    out->header_type = (uint8_t)(hdr & PCI_HEADER_TYPE_MASK);
    out->multifunction = (hdr & PCI_HEADER_MF) != 0u;
    /* Only the type 0 header has a subsystem ID at 0x2e. */
    out->subsys_id = out->header_type == 0u ? keel_pci_read16(hal, a, KEEL_PCI_SUBSYS_ID) : 0u;
    return KEEL_OK;
}

/* Visit the functions of one device; function 0 decides whether 1..7 exist at all. */
static int scan_device(const struct keel_hal *hal, struct keel_pci_addr a, keel_pci_visit_fn visit,
                       void *arg)
{
    struct keel_pci_fn f;
    bool multi;
    unsigned fn;
    int rc;

    a.fn = 0;
    rc = keel_pci_probe_fn(hal, a, &f);
    if (rc == KEEL_ENODEV)
        return KEEL_OK;
    if (rc != KEEL_OK)
        return rc;
    multi = f.multifunction;
    rc = visit(arg, &f);
    if (rc != 0 || !multi)
        return rc;
    for (fn = 1; fn < PCI_MAX_FN; fn++) {
        a.fn = (uint8_t)fn;
        rc = keel_pci_probe_fn(hal, a, &f);
        if (rc == KEEL_ENODEV)
            continue;
        if (rc != KEEL_OK)
            return rc;
        rc = visit(arg, &f);
        if (rc != 0)
            return rc;
    }
    return KEEL_OK;
}

int keel_pci_scan(const struct keel_hal *hal, uint16_t segment, uint8_t first_bus, uint8_t last_bus,
                  keel_pci_visit_fn visit, void *arg)
{
    struct keel_pci_addr a = {segment, 0, 0, 0};
    unsigned bus, dev;
    int rc;

    if (hal == NULL || visit == NULL || first_bus > last_bus)
        return KEEL_EINVAL;
    /* Unsigned loop counters: last_bus may be 255. */
    for (bus = first_bus; bus <= last_bus; bus++) {
        a.bus = (uint8_t)bus;
        for (dev = 0; dev < PCI_MAX_DEV; dev++) {
            a.dev = (uint8_t)dev;
            rc = scan_device(hal, a, visit, arg);
            if (rc != 0)
                return rc;
        }
    }
    return KEEL_OK;
}

int keel_pci_enable(const struct keel_hal *hal, struct keel_pci_addr a, uint16_t set_bits,
                    uint16_t clear_bits)
{
    uint32_t cmd;
    uint16_t want;
    int rc = keel_pci_read(hal, a, KEEL_PCI_COMMAND, 2, &cmd);

    if (rc != KEEL_OK)
        return rc;
    if (cmd == 0xffffu)
        return KEEL_ENODEV;
    want = (uint16_t)(((uint16_t)cmd | set_bits) & (uint16_t)~clear_bits);
    if (want == (uint16_t)cmd)
        return KEEL_OK;
    /* A 16-bit write: the status register above holds write-1-to-clear bits. */
    return keel_pci_write(hal, a, KEEL_PCI_COMMAND, 2, want);
}

/* Where the walk starts: the header's capability pointer, if the status register says so. */
static int cap_head(const struct keel_hal *hal, struct keel_pci_addr a, uint8_t *head)
{
    uint32_t status, hdr, ptr;
    int rc = keel_pci_read(hal, a, KEEL_PCI_STATUS, 2, &status);

    if (rc == KEEL_OK)
        rc = keel_pci_read(hal, a, KEEL_PCI_HEADER_TYPE, 1, &hdr);
    if (rc != KEEL_OK)
        return rc;
    if (status == 0xffffu)
        return KEEL_ENODEV;
    /* CardBus bridges keep their pointer at 0x14; Keel has no use for them. */
    if (!(status & KEEL_PCI_STATUS_CAP_LIST) || (hdr & PCI_HEADER_TYPE_MASK) == 2u)
        return KEEL_ENOENT;
    rc = keel_pci_read(hal, a, KEEL_PCI_CAP_PTR, 1, &ptr);
    if (rc != KEEL_OK)
        return rc;
    *head = (uint8_t)ptr;
    return KEEL_OK;
}

/*
 * PCI 3.0 6.7 says the two low bits of a pointer are reserved and to be masked; Keel is stricter
 * and calls such a list corrupt, as it calls a pointer into the header: both only come from broken
 * or hostile devices, and refusing beats guessing what they meant.
 */
static bool cap_ptr_ok(uint8_t p)
{
    return p >= PCI_CAP_FIRST && (p & 3u) == 0u;
}

int keel_pci_find_cap(const struct keel_hal *hal, struct keel_pci_addr a, uint8_t id,
                      uint16_t start, uint16_t *off)
{
    uint64_t seen = 0; /* one bit per dword slot 0x40..0xfc: 48 slots */
    bool matching = start == 0u;
    unsigned steps = 0;
    uint8_t p;
    int rc;

    if (off == NULL)
        return KEEL_EINVAL;
    rc = cap_head(hal, a, &p);
    if (rc != KEEL_OK)
        return rc;
    while (p != 0u) {
        uint32_t hdr;
        uint64_t bit;

        if (!cap_ptr_ok(p) || ++steps > KEEL_CONFIG_PCI_MAX_CAPS)
            return KEEL_EPROTO;
        bit = 1ull << ((p - PCI_CAP_FIRST) >> 2);
        if (seen & bit)
            return KEEL_EPROTO; /* the list loops */
        seen |= bit;
        rc = keel_pci_read(hal, a, p, 2, &hdr); /* ID, then next pointer */
        if (rc != KEEL_OK)
            return rc;
        if (matching && (uint8_t)hdr == id) {
            *off = p;
            return KEEL_OK;
        }
        if (p == start)
            matching = true;
        p = (uint8_t)(hdr >> 8);
    }
    /* `start` must name a capability of this list; anything else is a caller error. */
    return matching ? KEEL_ENOENT : KEEL_EINVAL;
}
