/* SPDX-License-Identifier: MIT */
/*
 * Admin commands: Identify, Get/Set Features, log pages (error, SMART, firmware slot),
 * asynchronous events to the integrator, power states and APST, temperature and thresholds, and
 * the admin passthrough allow-list.
 */
#include <stdlib.h>

#include <keel/endian.h>

#include "test_nvme_fixture.h"

static struct {
    unsigned n;
    struct keel_nvme_event ev[8];
} seen;

static void on_event(void *arg, struct keel_nvme_ctrl *ctrl, const struct keel_nvme_event *ev)
{
    (void)ctrl;
    assert_ptr_equal(arg, &seen);
    if (seen.n < 8)
        seen.ev[seen.n] = *ev;
    seen.n++;
}

static void up_with_events(struct nvt *t, void **state)
{
    nvt_init_state(t, state);
    memset(&seen, 0, sizeof(seen));
    t->cfg.event = on_event;
    t->cfg.event_arg = &seen;
}

static void test_identify_controller_into_a_caller_buffer(void **state)
{
    struct nvt t;
    uint8_t *id = malloc(4096);

    nvt_init_state(&t, state);
    nvt_up(&t);
    assert_int_equal(keel_nvme_identify(t.c, KEEL_NVME_CNS_CTRL, 0, id), KEEL_OK);
    assert_memory_equal(id + KEEL_NVME_IDC_SN, "KEELMODEL0001", 13);
    assert_int_equal(keel_nvme_identify(t.c, KEEL_NVME_CNS_NS, 1, id), KEEL_OK);
    assert_int_equal(id[KEEL_NVME_IDNS_NSZE], 0x00);
    assert_int_equal(id[KEEL_NVME_IDNS_NSZE + 1], 0x20); /* 8192 */
    free(id);
    nvt_done(&t);
}

static void test_features_round_trip(void **state)
{
    struct nvt t;
    uint32_t dw0 = 0;
    uint16_t k = 0;

    nvt_init_state(&t, state);
    nvt_up(&t);
    assert_int_equal(keel_nvme_set_arbitration(t.c, 3, 1, 2, 4), KEEL_OK);
    assert_int_equal(nvme_model_feature(t.m, KEEL_NVME_FEAT_ARBITRATION), 0x04020103u);
    assert_int_equal(keel_nvme_get_features(t.c, KEEL_NVME_FEAT_ARBITRATION, 0, 0, &dw0), KEEL_OK);
    assert_int_equal(dw0, 0x04020103u);
    assert_int_equal(keel_nvme_set_write_cache(t.c, false), KEEL_OK);
    assert_int_equal(nvme_model_feature(t.m, KEEL_NVME_FEAT_VOLATILE_WC), 0);
    assert_int_equal(keel_nvme_set_write_cache(t.c, true), KEEL_OK);
    assert_int_equal(nvme_model_feature(t.m, KEEL_NVME_FEAT_VOLATILE_WC), 1);
    assert_int_equal(keel_nvme_get_features(t.c, KEEL_NVME_FEAT_ASYNC_EVENT, 0, 0, &dw0), KEEL_OK);
    assert_int_equal(dw0 & 0x1fu, 0x1fu); /* SMART warnings enabled at attach */
    assert_int_equal(keel_nvme_set_temp_threshold(t.c, 0, false, 350), KEEL_OK);
    assert_int_equal(nvme_model_temp_threshold(t.m, 0, false), 350);
    assert_int_equal(keel_nvme_get_temp_threshold(t.c, 0, false, &k), KEEL_OK);
    assert_int_equal(k, 350);
    assert_int_equal(keel_nvme_set_temp_threshold(t.c, 0, true, 270), KEEL_OK);
    assert_int_equal(nvme_model_temp_threshold(t.m, 0, true), 270);
    assert_int_equal(keel_nvme_set_temp_threshold(t.c, 9, false, 300), KEEL_EINVAL);
    /* Unsupported feature: the device's answer comes back as an error. */
    assert_int_equal(keel_nvme_set_features(t.c, 0x7e, 0, 0, NULL), KEEL_EINVAL);
    nvt_done(&t);
}

static void test_number_of_queues_cannot_change_after_attach(void **state)
{
    struct nvt t;

    nvt_init_state(&t, state);
    nvt_up(&t);
    assert_int_equal(keel_nvme_set_features(t.c, KEEL_NVME_FEAT_NUM_QUEUES, 0, 0, NULL),
                     KEEL_EINVAL);
    nvt_done(&t);
}

static void test_write_cache_control_needs_a_write_cache(void **state)
{
    struct nvt t;

    nvt_init_state(&t, state);
    t.mc.vwc = false;
    nvt_up(&t);
    assert_int_equal(keel_nvme_set_write_cache(t.c, true), KEEL_ENOTSUP);
    nvt_done(&t);
}

static void test_smart_log_is_decoded(void **state)
{
    struct nvt t;
    struct keel_nvme_smart sm;
    uint16_t k = 0;
    uint8_t *b;

    nvt_init_state(&t, state);
    nvt_up(&t);
    b = calloc(1, 8u * nvt_bs(&t));
    assert_int_equal(keel_blk_write(t.bd, 0, 0, 8, b, 0), KEEL_OK);
    assert_int_equal(keel_nvme_smart_log(t.c, &sm), KEEL_OK);
    assert_int_equal(sm.temperature_k, 310);
    assert_int_equal(sm.critical_warning, 0);
    assert_int_equal(sm.available_spare, 100);
    assert_int_equal(sm.spare_threshold, 10);
    assert_int_equal(sm.host_writes, 1);
    assert_int_equal(sm.power_cycles, 1);
    assert_int_equal(sm.sensor_k[0], 310);
    nvme_model_set_temperature(t.m, 315);
    assert_int_equal(keel_nvme_temperature(t.c, &k), KEEL_OK);
    assert_int_equal(k, 315);
    free(b);
    nvt_done(&t);
}

static void test_error_log_records_a_failed_command(void **state)
{
    struct nvt t;
    struct keel_nvme_error_entry e[8];
    struct keel_nvme_status st;
    unsigned n = 0;
    uint8_t *b;

    nvt_init_state(&t, state);
    nvt_up(&t);
    b = calloc(1, nvt_bs(&t));
    sim_fault_arm(t.s, NVME_MODEL_F_STATUS, 0, 1,
                  NVME_MODEL_FP_IO | NVME_MODEL_FP_STATUS(2, 0x81, 1));
    assert_int_equal(keel_blk_read(t.bd, 0, 5, 1, b, 0), KEEL_EIO);
    assert_int_equal(keel_nvme_error_log(t.c, e, 8, &n), KEEL_OK);
    assert_int_equal(n, 4); /* ELPE + 1 */
    assert_true(e[0].error_count >= 1);
    assert_int_equal(e[0].sqid, 1);
    assert_int_equal(e[0].nsid, 1);
    st = keel_nvme_status_decode(e[0].status);
    assert_int_equal(st.sct, 2);
    assert_int_equal(st.sc, 0x81);
    assert_true(st.dnr);
    assert_int_equal(keel_nvme_error_log(t.c, e, 0, &n), KEEL_EINVAL);
    free(b);
    nvt_done(&t);
}

static void test_firmware_slot_log_is_decoded(void **state)
{
    struct nvt t;
    struct keel_nvme_fw_slots fw;

    nvt_init_state(&t, state);
    nvt_up(&t);
    assert_int_equal(keel_nvme_fw_slot_log(t.c, &fw), KEEL_OK);
    assert_int_equal(fw.active_slot, 1);
    assert_string_equal(fw.revision[0], "1.0");
    nvt_done(&t);
}

static void test_raw_log_page_into_a_caller_buffer(void **state)
{
    struct nvt t;
    uint8_t *b = aligned_alloc(4096, 4096);

    nvt_init_state(&t, state);
    nvt_up(&t);
    memset(b, 0xcc, 512);
    assert_int_equal(keel_nvme_get_log_page(t.c, KEEL_NVME_LOG_SMART, 0xffffffffu, 0, b, 512, true),
                     KEEL_OK);
    assert_int_equal(b[1] | (b[2] << 8), 310);
    assert_int_equal(keel_nvme_get_log_page(t.c, KEEL_NVME_LOG_SMART, 0xffffffffu, 0, b, 6, true),
                     KEEL_EINVAL);
    assert_int_equal(keel_nvme_get_log_page(t.c, 0x7f, 0xffffffffu, 0, b, 512, true), KEEL_EINVAL);
    free(b);
    nvt_done(&t);
}

static void test_an_aer_is_kept_outstanding(void **state)
{
    struct nvt t;

    nvt_init_state(&t, state);
    nvt_up(&t);
    assert_int_equal(nvme_model_aers_outstanding(t.m), 1);
    assert_int_equal(nvme_model_stats(t.m)->admin_cmds[KEEL_NVME_ADM_ASYNC_EVENT], 1);
    nvt_done(&t);
}

static void test_no_aer_when_the_integrator_opts_out(void **state)
{
    struct nvt t;

    nvt_init_state(&t, state);
    t.cfg.flags = KEEL_NVME_F_NO_AER;
    nvt_up(&t);
    assert_int_equal(nvme_model_aers_outstanding(t.m), 0);
    nvt_done(&t);
}

static void test_critical_warning_reaches_the_integrator_and_is_cleared(void **state)
{
    struct nvt t;

    up_with_events(&t, state);
    nvt_up(&t);
    nvme_model_set_critical_warning(t.m, KEEL_NVME_CW_SPARE);
    assert_int_equal(keel_nvme_service(t.c), KEEL_OK);
    assert_int_equal(seen.n, 1);
    assert_int_equal(seen.ev[0].type, KEEL_NVME_AET_SMART);
    assert_int_equal(seen.ev[0].info, KEEL_NVME_AEI_SMART_SPARE);
    assert_int_equal(seen.ev[0].log_page, KEEL_NVME_LOG_SMART);
    assert_int_equal(seen.ev[0].log_status, KEEL_OK);
    assert_true(seen.ev[0].critical_warning & KEEL_NVME_CW_SPARE);
    assert_int_equal(seen.ev[0].temperature_k, 310);
    assert_int_equal(keel_nvme_stats(t.c)->aer_events, 1);
    /* The log was read with RAE clear and the AER re-armed: the next event gets through. */
    assert_int_equal(nvme_model_aers_outstanding(t.m), 1);
    nvme_model_set_critical_warning(t.m, KEEL_NVME_CW_RELIABILITY);
    assert_int_equal(keel_nvme_service(t.c), KEEL_OK);
    assert_int_equal(seen.n, 2);
    assert_true(seen.ev[1].critical_warning & KEEL_NVME_CW_RELIABILITY);
    nvt_done(&t);
}

static void test_temperature_over_threshold_is_reported(void **state)
{
    struct nvt t;

    up_with_events(&t, state);
    nvt_up(&t);
    assert_int_equal(keel_nvme_set_temp_threshold(t.c, 0, false, 320), KEEL_OK);
    nvme_model_set_temperature(t.m, 330);
    assert_int_equal(keel_nvme_service(t.c), KEEL_OK);
    assert_int_equal(seen.n, 1);
    assert_int_equal(seen.ev[0].type, KEEL_NVME_AET_SMART);
    assert_int_equal(seen.ev[0].info, KEEL_NVME_AEI_SMART_TEMPERATURE);
    assert_int_equal(seen.ev[0].temperature_k, 330);
    assert_true(seen.ev[0].critical_warning & KEEL_NVME_CW_TEMPERATURE);
    nvt_done(&t);
}

static void test_notice_event_is_delivered_even_when_its_log_fails(void **state)
{
    struct nvt t;

    up_with_events(&t, state);
    nvt_up(&t);
    nvme_model_post_aer(t.m, KEEL_NVME_AET_NOTICE, KEEL_NVME_AEI_NOTICE_NS_CHANGED,
                        KEEL_NVME_LOG_CHANGED_NS);
    assert_int_equal(keel_nvme_service(t.c), KEEL_OK);
    assert_int_equal(seen.n, 1);
    assert_int_equal(seen.ev[0].type, KEEL_NVME_AET_NOTICE);
    assert_int_equal(seen.ev[0].log_page, KEEL_NVME_LOG_CHANGED_NS);
    assert_int_not_equal(seen.ev[0].log_status, KEEL_OK); /* the model lacks log 04h */
    assert_int_equal(nvme_model_aers_outstanding(t.m), 1);
    nvt_done(&t);
}

static void test_stuck_aer_does_not_block_other_admin_work(void **state)
{
    struct nvt t;
    uint32_t dw0;

    up_with_events(&t, state);
    nvt_up(&t);
    sim_fault_arm(t.s, NVME_MODEL_F_AER_STUCK, 0, UINT32_MAX, 0);
    nvme_model_set_critical_warning(t.m, KEEL_NVME_CW_SPARE);
    sim_advance(t.s, 60000000); /* AERs have no timeout: nothing is reset */
    assert_int_equal(keel_nvme_service(t.c), KEEL_OK);
    assert_int_equal(seen.n, 0);
    assert_int_equal(keel_nvme_stats(t.c)->resets, 0);
    assert_int_equal(keel_nvme_get_features(t.c, KEEL_NVME_FEAT_ARBITRATION, 0, 0, &dw0), KEEL_OK);
    nvt_done(&t);
}

/*
 * A controller that completes every Asynchronous Event Request at once (successfully, naming an
 * event) while interrupts are on: each completion makes the driver read the log and re-arm, which
 * completes at once again and raises the admin interrupt while the admin lock is held. The driver
 * must not chase that storm inside one call: an admin command returns after a bounded number of
 * AERs (unbounded, it would follow the device until the fault runs out, STORM_AERS of them) and
 * the controller keeps working.
 */
#define STORM_AERS 100000u

static void test_aer_storm_under_interrupts_is_bounded_per_call(void **state)
{
    const struct nvme_model_stats *ms;
    struct nvt t;
    uint32_t dw0, aers;

    up_with_events(&t, state);
    t.cfg.irq_mode = KEEL_NVME_IRQ_MSIX;
    sim_fault_arm(t.s, NVME_MODEL_F_STATUS, 0, STORM_AERS,
                  NVME_MODEL_FP_OPC(KEEL_NVME_ADM_ASYNC_EVENT) | NVME_MODEL_FP_ADMIN |
                      NVME_MODEL_FP_STATUS(0, 0, false));
    nvt_up(&t);
    ms = nvme_model_stats(t.m);
    aers = ms->admin_cmds[KEEL_NVME_ADM_ASYNC_EVENT];
    assert_int_equal(keel_nvme_get_features(t.c, KEEL_NVME_FEAT_ARBITRATION, 0, 0, &dw0), KEEL_OK);
    assert_true(ms->admin_cmds[KEEL_NVME_ADM_ASYNC_EVENT] > aers + 1u); /* the storm reached us */
    assert_true(ms->admin_cmds[KEEL_NVME_ADM_ASYNC_EVENT] < STORM_AERS / 100u);
    assert_int_equal(keel_nvme_service(t.c), KEEL_OK);
    assert_true(ms->admin_cmds[KEEL_NVME_ADM_ASYNC_EVENT] < STORM_AERS / 50u);
    assert_true(seen.n > 0);
    assert_int_equal(keel_nvme_stats(t.c)->resets, 0);
    sim_fault_clear(t.s, NVME_MODEL_F_STATUS);
    nvt_done(&t);
}

static void three_power_states(struct nvt *t)
{
    t->mc.npsd = 4;
    t->mc.psd[0] = (struct nvme_model_psd){2500, false, 0, 0};
    t->mc.psd[1] = (struct nvme_model_psd){800, false, 10, 10};
    t->mc.psd[2] = (struct nvme_model_psd){50, true, 100, 200};
    t->mc.psd[3] = (struct nvme_model_psd){5, true, 10000, 20000};
}

static void test_power_states_are_listed_and_set(void **state)
{
    struct nvt t;
    const struct keel_nvme_power_state *ps;
    unsigned cur = 9;

    nvt_init_state(&t, state);
    three_power_states(&t);
    nvt_up(&t);
    assert_int_equal(keel_nvme_power_state_count(t.c), 4);
    ps = keel_nvme_power_state(t.c, 0);
    assert_non_null(ps);
    assert_int_equal(ps->max_power_uw, 25000000);
    assert_false(ps->non_operational);
    ps = keel_nvme_power_state(t.c, 2);
    assert_int_equal(ps->max_power_uw, 500000);
    assert_true(ps->non_operational);
    assert_int_equal(ps->entry_lat_us, 100);
    assert_int_equal(ps->exit_lat_us, 200);
    assert_null(keel_nvme_power_state(t.c, 4));
    assert_int_equal(keel_nvme_set_power_state(t.c, 1), KEEL_OK);
    assert_int_equal(nvme_model_feature(t.m, KEEL_NVME_FEAT_POWER_MGMT), 1);
    assert_int_equal(keel_nvme_get_power_state(t.c, &cur), KEEL_OK);
    assert_int_equal(cur, 1);
    assert_int_equal(keel_nvme_set_power_state(t.c, 4), KEEL_EINVAL);
    nvt_done(&t);
}

static uint64_t apst_entry(struct nvt *t, unsigned i)
{
    const uint8_t *p = nvme_model_apst_table(t->m) + 8u * i;
    uint64_t v = 0;
    unsigned k;

    for (k = 0; k < 8; k++)
        v |= (uint64_t)p[k] << (8u * k);
    return v;
}

static void test_apst_table_targets_the_deepest_acceptable_state(void **state)
{
    struct nvt t;

    nvt_init_state(&t, state);
    three_power_states(&t);
    t.mc.apst = true;
    nvt_up(&t);
    /* 1 ms budget: only PS2 (300 us) qualifies; idle time about 50 x 300 us = 15 ms. */
    assert_int_equal(keel_nvme_apst_enable(t.c, 1000), KEEL_OK);
    assert_int_equal(nvme_model_feature(t.m, KEEL_NVME_FEAT_APST), 1);
    assert_int_equal(apst_entry(&t, 0) & 0xf8u, 2u << 3);
    assert_int_equal(apst_entry(&t, 0) >> 8, 15);
    assert_int_equal(apst_entry(&t, 1), apst_entry(&t, 0));
    assert_int_equal(apst_entry(&t, 2), 0);
    assert_int_equal(apst_entry(&t, 3), 0);
    /* 100 ms budget: PS0/PS1 step to PS2 after 15 ms, PS2 to PS3 after about 1.5 s. */
    assert_int_equal(keel_nvme_apst_enable(t.c, 100000), KEEL_OK);
    assert_int_equal(apst_entry(&t, 0) & 0xf8u, 2u << 3);
    assert_int_equal(apst_entry(&t, 0) >> 8, 15);
    assert_int_equal(apst_entry(&t, 2) & 0xf8u, 3u << 3);
    assert_true((apst_entry(&t, 2) >> 8) >= 1400 && (apst_entry(&t, 2) >> 8) <= 1600);
    assert_int_equal(apst_entry(&t, 3), 0);
    assert_int_equal(keel_nvme_apst_disable(t.c), KEEL_OK);
    assert_int_equal(nvme_model_feature(t.m, KEEL_NVME_FEAT_APST), 0);
    assert_int_equal(apst_entry(&t, 0), 0);
    nvt_done(&t);
}

static void test_apst_without_support_is_refused(void **state)
{
    struct nvt t;

    nvt_init_state(&t, state);
    nvt_up(&t);
    assert_int_equal(keel_nvme_apst_enable(t.c, 1000), KEEL_ENOTSUP);
    assert_int_equal(nvme_model_stats(t.m)->admin_cmds[KEEL_NVME_ADM_SET_FEATURES], 2);
    nvt_done(&t);
}

/* A passthrough command: the SQE as it goes to the device, every field little-endian. */
static struct keel_nvme_sqe mk(uint8_t opc, uint32_t cdw10)
{
    struct keel_nvme_sqe c;

    memset(&c, 0, sizeof(c));
    c.opc = opc;
    c.cdw10 = keel_cpu_to_le32(cdw10);
    return c;
}

static void test_passthrough_refuses_destructive_and_driver_owned_opcodes(void **state)
{
    static const uint8_t refused[] = {
        KEEL_NVME_ADM_FORMAT_NVM,    KEEL_NVME_ADM_SANITIZE,     KEEL_NVME_ADM_FW_COMMIT,
        KEEL_NVME_ADM_FW_DOWNLOAD,   KEEL_NVME_ADM_NS_MGMT,      KEEL_NVME_ADM_NS_ATTACH,
        KEEL_NVME_ADM_SECURITY_SEND, KEEL_NVME_ADM_CREATE_SQ,    KEEL_NVME_ADM_DELETE_SQ,
        KEEL_NVME_ADM_CREATE_CQ,     KEEL_NVME_ADM_DELETE_CQ,    KEEL_NVME_ADM_ABORT,
        KEEL_NVME_ADM_ASYNC_EVENT,   KEEL_NVME_ADM_DOORBELL_BUF, 0xc1,
    };
    struct nvt t;
    struct keel_nvme_sqe c;
    uint32_t before;
    unsigned i;

    nvt_init_state(&t, state);
    nvt_up(&t);
    before = t.c->stats.admin_cmds;
    for (i = 0; i < sizeof(refused); i++) {
        c = mk(refused[i], 0);
        assert_false(keel_nvme_passthru_allowed(&c, 0));
        assert_int_equal(keel_nvme_admin_passthru(t.c, &c, NULL, 0, NULL, NULL, 0), KEEL_ENOTSUP);
    }
    c = mk(KEEL_NVME_ADM_SET_FEATURES, KEEL_NVME_FEAT_NUM_QUEUES);
    assert_int_equal(keel_nvme_admin_passthru(t.c, &c, NULL, 0, NULL, NULL, 0), KEEL_ENOTSUP);
    assert_int_equal(t.c->stats.admin_cmds, before);
    assert_int_equal(nvme_model_stats(t.m)->admin_cmds[KEEL_NVME_ADM_FORMAT_NVM], 0);
    nvt_done(&t);
}

static void test_allow_list_grants_each_destructive_opcode_separately(void **state)
{
    struct keel_nvme_sqe c;

    (void)state;
    c = mk(KEEL_NVME_ADM_FORMAT_NVM, 0);
    assert_true(keel_nvme_passthru_allowed(&c, KEEL_NVME_PT_ALLOW_FORMAT));
    assert_false(keel_nvme_passthru_allowed(&c, KEEL_NVME_PT_ALLOW_SANITIZE));
    c = mk(KEEL_NVME_ADM_SANITIZE, 0);
    assert_true(keel_nvme_passthru_allowed(&c, KEEL_NVME_PT_ALLOW_SANITIZE));
    c = mk(KEEL_NVME_ADM_FW_COMMIT, 0);
    assert_true(keel_nvme_passthru_allowed(&c, KEEL_NVME_PT_ALLOW_FW_COMMIT));
    assert_false(keel_nvme_passthru_allowed(&c, KEEL_NVME_PT_ALLOW_FW_DOWNLOAD));
    c = mk(KEEL_NVME_ADM_FW_DOWNLOAD, 0);
    assert_true(keel_nvme_passthru_allowed(&c, KEEL_NVME_PT_ALLOW_FW_DOWNLOAD));
    c = mk(KEEL_NVME_ADM_NS_ATTACH, 0);
    assert_true(keel_nvme_passthru_allowed(&c, KEEL_NVME_PT_ALLOW_NS_MGMT));
    c = mk(0xc1, 0);
    assert_true(keel_nvme_passthru_allowed(&c, KEEL_NVME_PT_ALLOW_VENDOR));
    c = mk(KEEL_NVME_ADM_CREATE_SQ, 0);
    assert_false(keel_nvme_passthru_allowed(&c, 0xffffffffu)); /* never, whatever is allowed */
    c = mk(KEEL_NVME_ADM_IDENTIFY, 1);
    assert_true(keel_nvme_passthru_allowed(&c, 0));
    assert_false(keel_nvme_passthru_allowed(NULL, 0xffffffffu));
}

static void test_passthrough_identify_into_a_caller_buffer(void **state)
{
    struct nvt t;
    struct keel_nvme_sqe c;
    uint8_t *buf = aligned_alloc(4096, 8192), *ref = malloc(4096);
    uint16_t st = 0xffff;

    nvt_init_state(&t, state);
    nvt_up(&t);
    c = mk(KEEL_NVME_ADM_IDENTIFY, KEEL_NVME_CNS_CTRL);
    c.prp1 = keel_cpu_to_le64(0xdead0000ull); /* ignored: PRPs and MPTR are the driver's */
    c.mptr = keel_cpu_to_le64(0xbeef0000ull);
    assert_int_equal(keel_nvme_admin_passthru(t.c, &c, buf, 4096, NULL, &st, 0), KEEL_OK);
    assert_int_equal(st, 0);
    assert_int_equal(keel_nvme_identify(t.c, KEEL_NVME_CNS_CTRL, 0, ref), KEEL_OK);
    assert_memory_equal(buf, ref, 4096);
    /* Offset buffer (dword aligned): still fine through PRP1 + PRP2. */
    assert_int_equal(keel_nvme_admin_passthru(t.c, &c, buf + 100, 4096, NULL, &st, 0), KEEL_OK);
    assert_memory_equal(buf + 100, ref, 4096);
    if (t.p->map_mode == SIM_MAP_TRANSLATE)
        assert_int_equal(keel_nvme_admin_passthru(t.c, &c, buf + 1, 4096, NULL, &st, 0),
                         KEEL_EFAULT);
    free(buf);
    free(ref);
    nvt_done(&t);
}

static void test_passthrough_checks_the_data_direction(void **state)
{
    struct nvt t;
    struct keel_nvme_sqe c;
    uint8_t buf[64];

    nvt_init_state(&t, state);
    nvt_up(&t);
    c = mk(KEEL_NVME_ADM_GET_LOG_PAGE, 0);
    assert_int_equal(keel_nvme_admin_passthru(t.c, &c, NULL, 0, NULL, NULL, 0), KEEL_EINVAL);
    c = mk(KEEL_NVME_ADM_KEEP_ALIVE, 0);
    assert_int_equal(keel_nvme_admin_passthru(t.c, &c, buf, sizeof(buf), NULL, NULL, 0),
                     KEEL_EINVAL);
    nvt_done(&t);
}

static void test_enabled_destructive_opcode_reaches_the_device(void **state)
{
    struct nvt t;
    struct keel_nvme_sqe c;
    uint16_t st = 0;

    nvt_init_state(&t, state);
    nvt_up(&t);
    c = mk(KEEL_NVME_ADM_FORMAT_NVM, 0);
    c.nsid = keel_cpu_to_le32(1);
    assert_int_equal(keel_nvme_admin_passthru(t.c, &c, NULL, 0, NULL, &st, 0), KEEL_ENOTSUP);
    assert_int_equal(nvme_model_stats(t.m)->admin_cmds[KEEL_NVME_ADM_FORMAT_NVM], 0);
    keel_nvme_passthru_allow(t.c, KEEL_NVME_PT_ALLOW_FORMAT);
    /* The model does not implement Format: its Invalid Opcode comes back with the status. */
    assert_int_equal(keel_nvme_admin_passthru(t.c, &c, NULL, 0, NULL, &st, 0), KEEL_ENOTSUP);
    assert_int_equal(nvme_model_stats(t.m)->admin_cmds[KEEL_NVME_ADM_FORMAT_NVM], 1);
    assert_int_equal(KEEL_NVME_STATUS_SC(st), KEEL_NVME_SC_INVALID_OPCODE);
    nvt_done(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        NVT_DEFAULT(test_identify_controller_into_a_caller_buffer),
        NVT_DEFAULT(test_features_round_trip),
        NVT_DEFAULT(test_number_of_queues_cannot_change_after_attach),
        NVT_DEFAULT(test_write_cache_control_needs_a_write_cache),
        NVT_MATRIX(test_smart_log_is_decoded),
        NVT_MATRIX(test_error_log_records_a_failed_command),
        NVT_DEFAULT(test_firmware_slot_log_is_decoded),
        NVT_CASE(test_raw_log_page_into_a_caller_buffer, p512_d8_translate),
        NVT_CASE(test_raw_log_page_into_a_caller_buffer, p512_d64_bounce),
        NVT_DEFAULT(test_an_aer_is_kept_outstanding),
        NVT_DEFAULT(test_no_aer_when_the_integrator_opts_out),
        NVT_MATRIX(test_critical_warning_reaches_the_integrator_and_is_cleared),
        NVT_DEFAULT(test_temperature_over_threshold_is_reported),
        NVT_DEFAULT(test_notice_event_is_delivered_even_when_its_log_fails),
        NVT_DEFAULT(test_stuck_aer_does_not_block_other_admin_work),
        NVT_DEFAULT(test_aer_storm_under_interrupts_is_bounded_per_call),
        NVT_DEFAULT(test_power_states_are_listed_and_set),
        NVT_DEFAULT(test_apst_table_targets_the_deepest_acceptable_state),
        NVT_DEFAULT(test_apst_without_support_is_refused),
        NVT_DEFAULT(test_passthrough_refuses_destructive_and_driver_owned_opcodes),
        cmocka_unit_test(test_allow_list_grants_each_destructive_opcode_separately),
        NVT_CASE(test_passthrough_identify_into_a_caller_buffer, p512_d8_translate),
        NVT_CASE(test_passthrough_identify_into_a_caller_buffer, p512_d64_bounce),
        NVT_DEFAULT(test_passthrough_checks_the_data_direction),
        NVT_DEFAULT(test_enabled_destructive_opcode_reaches_the_device),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
