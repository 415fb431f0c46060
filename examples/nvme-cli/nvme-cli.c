/* SPDX-License-Identifier: MIT */
/*
 * nvme-cli - a few of nvme-cli's commands on top of Keel's NVMe driver, printed with nvme-cli's
 * field names and layout, so the output can be compared side by side with `nvme <cmd>` on Linux.
 *
 * Arguments (plus the probe's irq=, ioq=, qdepth=; see probe.h):
 *   cmd=list|id-ctrl|id-ns|smart-log|error-log|get-feature|all   (default list)
 *   ctrl=<n>     controller index (nvme<n>), default 0
 *   ns=<nsid>    id-ns: namespace (default: every namespace the controller has)
 *   fid=<id>     get-feature: feature id (default: the common ones, 0x01-0x0b)
 *
 * Every command prints what the controller returned; a command that fails is a failure.
 * Values are raw device data (untrusted): they are printed, never used to index anything.
 */
#include <keel/endian.h>
#include <keel/error.h>
#include <keel/fmt.h>
#include <keel/str.h>

#include "example.h"
#include "probe.h"

static struct ex_devices devs;
static uint8_t buf[KEEL_NVME_IDENTIFY_SIZE] __attribute__((aligned(4096)));

/* nvme-cli prints "name<pad>: value" with the names padded to one width per command. */
static void field(unsigned width, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void field(unsigned width, const char *name, const char *fmt, ...)
{
    char v[96], pad[48];
    size_t n = keel_strnlen(name, sizeof(pad)), i;
    va_list ap;

    va_start(ap, fmt);
    (void)keel_vsnprintf(v, sizeof(v), fmt, ap);
    va_end(ap);
    for (i = 0; n + i < width && i + 1u < sizeof(pad); i++)
        pad[i] = ' ';
    pad[i] = '\0';
    keel_port_printf("%s%s: %s\n", name, pad, v);
}

/* A fixed-width ASCII identify field, trailing spaces dropped, non-printables as '.'. */
static void ascii(char *out, const uint8_t *p, unsigned len)
{
    unsigned i, end = 0;

    for (i = 0; i < len; i++) {
        out[i] = (p[i] >= 0x20u && p[i] < 0x7fu) ? (char)p[i] : '.';
        if (p[i] != ' ' && p[i] != 0u)
            end = i + 1u;
    }
    out[end] = '\0';
}

/* ---- id-ctrl ------------------------------------------------------------------------------- */

static void print_power_states(const uint8_t *id)
{
    unsigned i, npss = id[KEEL_NVME_IDC_NPSS];

    for (i = 0; i <= npss && i < 32u; i++) {
        const uint8_t *ps = id + KEEL_NVME_IDC_PSD0 + 32u * i;
        uint16_t mp = keel_ld_le16(ps);
        unsigned scale = (ps[3] & 0x1u) ? 10000u : 100u; /* MXPS: 0.0001 W or 0.01 W units */
        uint32_t centiw = scale == 100u ? mp : mp / 100u;

        keel_port_printf("ps %4u : mp:%u.%02uW %soperational enlat:%u exlat:%u rrt:%u rrl:%u\n", i,
                         centiw / 100u, centiw % 100u, (ps[3] & 0x2u) ? "non-" : "",
                         keel_ld_le32(ps + 4), keel_ld_le32(ps + 8), ps[12] & 0x1fu,
                         ps[13] & 0x1fu);
        keel_port_printf("          rwt:%u rwl:%u idle_power:- active_power:-\n", ps[14] & 0x1fu,
                         ps[15] & 0x1fu);
    }
}

static bool id_ctrl(struct ex_nvme *n)
{
    char s[260];
    int rc = keel_nvme_identify(&n->ctrl, KEEL_NVME_CNS_CTRL, 0, buf);
    const unsigned w = 10;

    if (!EX_CHECK(rc == KEEL_OK, "%s: Identify Controller: %s", n->name, keel_strerror(rc)))
        return false;
    keel_port_puts("NVME Identify Controller:\n");
    field(w, "vid", "0x%x", keel_ld_le16(buf + 0));
    field(w, "ssvid", "0x%x", keel_ld_le16(buf + 2));
    ascii(s, buf + KEEL_NVME_IDC_SN, 20);
    field(w, "sn", "%-20s", s);
    ascii(s, buf + KEEL_NVME_IDC_MN, 40);
    field(w, "mn", "%-40s", s);
    ascii(s, buf + KEEL_NVME_IDC_FR, 8);
    field(w, "fr", "%-8s", s);
    field(w, "rab", "%u", buf[72]);
    field(w, "ieee", "%02x%02x%02x", buf[75], buf[74], buf[73]);
    field(w, "cmic", "%u", buf[76]);
    field(w, "mdts", "%u", buf[KEEL_NVME_IDC_MDTS]);
    field(w, "cntlid", "0x%x", keel_ld_le16(buf + KEEL_NVME_IDC_CNTLID));
    field(w, "ver", "0x%x", keel_ld_le32(buf + KEEL_NVME_IDC_VER));
    field(w, "rtd3r", "0x%x", keel_ld_le32(buf + KEEL_NVME_IDC_RTD3R));
    field(w, "rtd3e", "0x%x", keel_ld_le32(buf + KEEL_NVME_IDC_RTD3E));
    field(w, "oaes", "0x%x", keel_ld_le32(buf + KEEL_NVME_IDC_OAES));
    field(w, "ctratt", "0x%x", keel_ld_le32(buf + 96));
    field(w, "cntrltype", "%u", buf[111]);
    field(w, "oacs", "0x%x", keel_ld_le16(buf + KEEL_NVME_IDC_OACS));
    field(w, "acl", "%u", buf[KEEL_NVME_IDC_ACL]);
    field(w, "aerl", "%u", buf[KEEL_NVME_IDC_AERL]);
    field(w, "frmw", "0x%x", buf[KEEL_NVME_IDC_FRMW]);
    field(w, "lpa", "0x%x", buf[KEEL_NVME_IDC_LPA]);
    field(w, "elpe", "%u", buf[KEEL_NVME_IDC_ELPE]);
    field(w, "npss", "%u", buf[KEEL_NVME_IDC_NPSS]);
    field(w, "avscc", "0x%x", buf[264]);
    field(w, "apsta", "0x%x", buf[KEEL_NVME_IDC_APSTA]);
    field(w, "wctemp", "%u", keel_ld_le16(buf + KEEL_NVME_IDC_WCTEMP));
    field(w, "cctemp", "%u", keel_ld_le16(buf + KEEL_NVME_IDC_CCTEMP));
    field(w, "sqes", "0x%x", buf[KEEL_NVME_IDC_SQES]);
    field(w, "cqes", "0x%x", buf[KEEL_NVME_IDC_CQES]);
    field(w, "maxcmd", "%u", keel_ld_le16(buf + 514));
    field(w, "nn", "%u", keel_ld_le32(buf + KEEL_NVME_IDC_NN));
    field(w, "oncs", "0x%x", keel_ld_le16(buf + KEEL_NVME_IDC_ONCS));
    field(w, "fuses", "0x%x", keel_ld_le16(buf + 522));
    field(w, "fna", "0x%x", buf[524]);
    field(w, "vwc", "0x%x", buf[KEEL_NVME_IDC_VWC]);
    field(w, "awun", "%u", keel_ld_le16(buf + 526));
    field(w, "awupf", "%u", keel_ld_le16(buf + 528));
    field(w, "nvscc", "%u", buf[530]);
    field(w, "acwu", "%u", keel_ld_le16(buf + 532));
    field(w, "sgls", "0x%x", keel_ld_le32(buf + KEEL_NVME_IDC_SGLS));
    ascii(s, buf + 768, 256);
    field(w, "subnqn", "%s", s);
    print_power_states(buf);
    return true;
}

/* ---- id-ns --------------------------------------------------------------------------------- */

static bool id_ns(struct ex_nvme *n, uint32_t nsid)
{
    const unsigned w = 8;
    unsigned i, nlbaf, flbas, inuse;
    int rc = keel_nvme_identify(&n->ctrl, KEEL_NVME_CNS_NS, nsid, buf);

    if (!EX_CHECK(rc == KEEL_OK, "%s: Identify Namespace %u: %s", n->name, nsid, keel_strerror(rc)))
        return false;
    nlbaf = buf[KEEL_NVME_IDNS_NLBAF];
    flbas = buf[KEEL_NVME_IDNS_FLBAS];
    inuse = (flbas & 0x0fu) | ((flbas >> 1) & 0x30u);
    keel_port_printf("NVME Identify Namespace %u:\n", nsid);
    field(w, "nsze", "0x%llx", (unsigned long long)keel_ld_le64(buf + KEEL_NVME_IDNS_NSZE));
    field(w, "ncap", "0x%llx", (unsigned long long)keel_ld_le64(buf + KEEL_NVME_IDNS_NCAP));
    field(w, "nuse", "0x%llx", (unsigned long long)keel_ld_le64(buf + KEEL_NVME_IDNS_NUSE));
    field(w, "nsfeat", "0x%x", buf[KEEL_NVME_IDNS_NSFEAT]);
    field(w, "nlbaf", "%u", nlbaf);
    field(w, "flbas", "0x%x", flbas);
    field(w, "mc", "0x%x", buf[27]);
    field(w, "dpc", "0x%x", buf[28]);
    field(w, "dps", "%u", buf[KEEL_NVME_IDNS_DPS]);
    field(w, "nmic", "%u", buf[30]);
    field(w, "rescap", "0x%x", buf[31]);
    field(w, "fpi", "0x%x", buf[32]);
    field(w, "dlfeat", "%u", buf[KEEL_NVME_IDNS_DLFEAT]);
    field(w, "nawun", "%u", keel_ld_le16(buf + 34));
    field(w, "nawupf", "%u", keel_ld_le16(buf + 36));
    field(w, "nacwu", "%u", keel_ld_le16(buf + 38));
    field(w, "nsattr", "%u", buf[KEEL_NVME_IDNS_NSATTR]);
    field(w, "nguid", "%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x", buf[104],
          buf[105], buf[106], buf[107], buf[108], buf[109], buf[110], buf[111], buf[112], buf[113],
          buf[114], buf[115], buf[116], buf[117], buf[118], buf[119]);
    field(w, "eui64", "%02x%02x%02x%02x%02x%02x%02x%02x", buf[120], buf[121], buf[122], buf[123],
          buf[124], buf[125], buf[126], buf[127]);
    for (i = 0; i <= nlbaf && i < KEEL_NVME_IDNS_MAX_LBAF; i++) {
        const uint8_t *f = buf + KEEL_NVME_IDNS_LBAF0 + 4u * i;
        char ms[8];

        (void)keel_snprintf(ms, sizeof(ms), "%u", keel_ld_le16(f));
        keel_port_printf("lbaf %2u : ms:%-3s lbads:%-2u rp:%u%s\n", i, ms, f[2], f[3] & 0x3u,
                         i == inuse ? " (in use)" : "");
    }
    return true;
}

/* ---- smart-log / error-log ----------------------------------------------------------------- */

static bool smart_log(struct ex_nvme *n)
{
    struct keel_nvme_smart s;
    const unsigned w = 40;
    int rc = keel_nvme_smart_log(&n->ctrl, &s);

    if (!EX_CHECK(rc == KEEL_OK, "%s: SMART log: %s", n->name, keel_strerror(rc)))
        return false;
    keel_port_printf("Smart Log for NVME device:%s namespace-id:ffffffff\n", n->name);
    field(w, "critical_warning", "%u", s.critical_warning);
    field(w, "temperature", "%d C (%u Kelvin)", (int)s.temperature_k - 273, s.temperature_k);
    field(w, "available_spare", "%u%%", s.available_spare);
    field(w, "available_spare_threshold", "%u%%", s.spare_threshold);
    field(w, "percentage_used", "%u%%", s.percent_used);
    field(w, "data_units_read", "%llu", (unsigned long long)s.data_units_read);
    field(w, "data_units_written", "%llu", (unsigned long long)s.data_units_written);
    field(w, "host_read_commands", "%llu", (unsigned long long)s.host_reads);
    field(w, "host_write_commands", "%llu", (unsigned long long)s.host_writes);
    field(w, "power_cycles", "%llu", (unsigned long long)s.power_cycles);
    field(w, "power_on_hours", "%llu", (unsigned long long)s.power_on_hours);
    field(w, "unsafe_shutdowns", "%llu", (unsigned long long)s.unsafe_shutdowns);
    field(w, "media_errors", "%llu", (unsigned long long)s.media_errors);
    field(w, "num_err_log_entries", "%llu", (unsigned long long)s.error_log_entries);
    field(w, "Warning Temperature Time", "%u", s.warning_temp_minutes);
    field(w, "Critical Composite Temperature Time", "%u", s.critical_temp_minutes);
    return true;
}

static bool error_log(struct ex_nvme *n)
{
    static struct keel_nvme_error_entry e[16];
    unsigned i, count = 0, shown = 0;
    int rc = keel_nvme_error_log(&n->ctrl, e, 16, &count);

    if (!EX_CHECK(rc == KEEL_OK, "%s: error log: %s", n->name, keel_strerror(rc)))
        return false;
    keel_port_printf("Error Log Entries for device:%s entries:%u\n", n->name, count);
    keel_port_puts(".................\n");
    for (i = 0; i < count; i++) {
        if (e[i].error_count == 0u && i > 0u)
            continue; /* nvme-cli lists every entry; empty ones after the first add nothing */
        keel_port_printf(" Entry[%2u]\n.................\n", i);
        field(16, "error_count", "%llu", (unsigned long long)e[i].error_count);
        field(16, "sqid", "%u", e[i].sqid);
        field(16, "cmdid", "0x%x", e[i].cid);
        field(16, "status_field", "0x%x(%s)", e[i].status, keel_nvme_status_name(e[i].status));
        field(16, "parm_err_loc", "0x%x", e[i].param_location);
        field(16, "lba", "0x%llx", (unsigned long long)e[i].lba);
        field(16, "nsid", "0x%x", e[i].nsid);
        keel_port_puts(".................\n");
        shown++;
    }
    keel_port_printf("error-log entries=%u shown=%u\n", count, shown);
    return true;
}

/* ---- get-feature --------------------------------------------------------------------------- */

static const char *feature_name(unsigned fid)
{
    static const char *const names[] = {
        "Reserved",
        "Arbitration",
        "Power Management",
        "LBA Range Type",
        "Temperature Threshold",
        "Error Recovery",
        "Volatile Write Cache",
        "Number of Queues",
        "Interrupt Coalescing",
        "Interrupt Vector Configuration",
        "Write Atomicity Normal",
        "Async Event Configuration",
    };

    return fid < sizeof(names) / sizeof(names[0]) ? names[fid] : "Unknown";
}

static bool get_feature(struct ex_nvme *n, unsigned fid)
{
    uint32_t dw0 = 0, nsid = 0;
    int rc;

    /* Error Recovery is per namespace (NVM command set): ask about the first one, as nvme-cli
     * does with its default namespace. Interrupt Vector Configuration: vector 0 (CDW11 = 0). */
    if (fid == KEEL_NVME_FEAT_ERROR_RECOVERY && keel_nvme_ns_count(&n->ctrl) > 0u)
        nsid = keel_nvme_ns_at(&n->ctrl, 0)->nsid;
    rc = keel_nvme_get_features(&n->ctrl, (uint8_t)fid, nsid, 0, &dw0);
    if (!EX_CHECK(rc == KEEL_OK, "%s: get-feature 0x%02x: %s", n->name, fid, keel_strerror(rc)))
        return false;
    keel_port_printf("get-feature:0x%02x (%s), Current value:0x%08x\n", fid, feature_name(fid),
                     dw0);
    return true;
}

/* ---- list ---------------------------------------------------------------------------------- */

/* nvme-cli's "%6.2f %2s": decimal units, two decimals rounded, right-aligned in six columns. */
static void human(char *out, size_t size, uint64_t bytes)
{
    static const char *const unit[] = {"B", "kB", "MB", "GB", "TB", "PB"};
    uint64_t div = 1, scaled;
    unsigned u = 0;
    char num[24];

    while (u + 1u < sizeof(unit) / sizeof(unit[0]) && bytes >= div * 1000u) {
        div *= 1000u;
        u++;
    }
    scaled = (bytes / div) * 100u + ((bytes % div) * 100u + div / 2u) / div;
    (void)keel_snprintf(num, sizeof(num), "%llu.%02llu", (unsigned long long)(scaled / 100u),
                        (unsigned long long)(scaled % 100u));
    (void)keel_snprintf(out, size, "%6s %2s", num, unit[u]);
}

static void list(void)
{
    unsigned i, j;

    keel_port_printf("%-21s %-20s %-40s %-9s %-26s %-16s %-8s\n", "Node", "SN", "Model",
                     "Namespace", "Usage", "Format", "FW Rev");
    keel_port_printf(
        "%.21s %.20s %.40s %.9s %.26s %.16s %.8s\n", "------------------------------------------",
        "------------------------------------------", "------------------------------------------",
        "------------------------------------------", "------------------------------------------",
        "------------------------------------------", "------------------------------------------");
    for (i = 0; i < devs.nnvme; i++) {
        struct keel_nvme_ctrl *c = &devs.nvme[i].ctrl;

        if (!devs.nvme[i].up)
            continue;
        for (j = 0; j < keel_nvme_ns_count(c); j++) {
            struct keel_nvme_ns *ns = keel_nvme_ns_at(c, j);
            char node[24], used[16], total[16], usage[32], fmt[24];
            uint64_t bs;

            if (ns == NULL || keel_nvme_identify(c, KEEL_NVME_CNS_NS, ns->nsid, buf) != KEEL_OK) {
                ex_fail("%s: Identify Namespace failed", devs.nvme[i].name);
                continue;
            }
            bs = 1ull << ns->lba_shift;
            (void)keel_snprintf(node, sizeof(node), "%sn%u", devs.nvme[i].name, ns->nsid);
            human(used, sizeof(used), keel_ld_le64(buf + KEEL_NVME_IDNS_NUSE) * bs);
            human(total, sizeof(total), keel_ld_le64(buf + KEEL_NVME_IDNS_NSZE) * bs);
            (void)keel_snprintf(usage, sizeof(usage), "%s / %s", used, total);
            (void)keel_snprintf(fmt, sizeof(fmt), "%u   B + %u B", (unsigned)bs, ns->ms);
            keel_port_printf("%-21s %-20s %-40s %-9u %-26s %-16s %-8s\n", node, c->sn, c->mn,
                             ns->nsid, usage, fmt, c->fr);
        }
    }
}

/* ---- main ---------------------------------------------------------------------------------- */

static bool run(const char *cmd, struct ex_nvme *n, const char *cmdline)
{
    uint64_t v;
    unsigned i;
    bool all = keel_streq(cmd, "all"), any = false;

    if (all || keel_streq(cmd, "list")) {
        list();
        any = true;
    }
    if (all || keel_streq(cmd, "id-ctrl")) {
        (void)id_ctrl(n);
        any = true;
    }
    if (all || keel_streq(cmd, "id-ns")) {
        any = true;
        if (ex_arg_u64(cmdline, "ns", &v))
            (void)id_ns(n, (uint32_t)v);
        else
            for (i = 0; i < keel_nvme_ns_count(&n->ctrl); i++)
                (void)id_ns(n, keel_nvme_ns_at(&n->ctrl, i)->nsid);
    }
    if (all || keel_streq(cmd, "smart-log")) {
        (void)smart_log(n);
        any = true;
    }
    if (all || keel_streq(cmd, "error-log")) {
        (void)error_log(n);
        any = true;
    }
    if (all || keel_streq(cmd, "get-feature")) {
        any = true;
        if (ex_arg_u64(cmdline, "fid", &v))
            (void)get_feature(n, (unsigned)v);
        else
            for (i = 1; i <= KEEL_NVME_FEAT_ASYNC_EVENT; i++)
                if (i != 3u) /* LBA Range Type needs a data buffer */
                    (void)get_feature(n, i);
    }
    return any;
}

int main(void)
{
    static struct keel_port port;
    struct ex_probe_opts opts;
    char cmd[16] = "list";
    uint64_t idx = 0;
    int rc = keel_port_init(&port);

    if (!EX_CHECK(rc == KEEL_OK, "keel_port_init: %s", keel_strerror(rc)))
        return ex_finish();
    if (!EX_CHECK(ex_probe_opts_parse(port.cmdline, &opts), "bad arguments"))
        return ex_finish();
    (void)ex_arg(port.cmdline, "cmd", cmd, sizeof(cmd));
    (void)ex_arg_u64(port.cmdline, "ctrl", &idx);
    opts.no_parts = true;
    (void)ex_probe(&devs, &port, &opts);
    ex_print_unserved(&devs);
    if (!EX_CHECK(idx < devs.nnvme && devs.nvme[idx].up, "no NVMe controller nvme%llu",
                  (unsigned long long)idx))
        return ex_finish();
    EX_CHECK(run(cmd, &devs.nvme[idx], port.cmdline),
             "cmd=%s: expected list, id-ctrl, id-ns, smart-log, error-log, get-feature or all",
             cmd);
    return ex_finish();
}
