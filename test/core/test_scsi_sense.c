/* SPDX-License-Identifier: MIT */
/*
 * SCSI sense data in both formats (complete, truncated, lying lengths), the names of statuses,
 * sense keys and ASC/ASCQ pairs, and the retry policy table of keel/scsi.h row by row.
 * Truncation tests use exactly-sized heap buffers so ASan catches any over-read.
 */
#include <sim/test_common.h>

#include <keel/error.h>
#include <keel/scsi.h>

static uint8_t *exact(const uint8_t *src, size_t len)
{
    uint8_t *p = malloc(len == 0 ? 1 : len);
    assert_non_null(p);
    if (len != 0)
        memcpy(p, src, len);
    return p;
}

/* Fixed format, current, VALID, MEDIUM ERROR 11/00 at LBA 0x12345678. */
static const uint8_t fixed_medium[18] = {0xf0, 0x00, 0x03, 0x12, 0x34, 0x56, 0x78, 0x0a, 0x00,
                                         0x00, 0x00, 0x00, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00};

/* Descriptor format: ILLEGAL REQUEST 24/00, information 0x1122334455667788, sense-key specific
 * field pointer (C/D = 1, byte 2). */
static const uint8_t desc_illegal[28] = {
    0x72, 0x05, 0x24, 0x00, 0x00, 0x00, 0x00, 0x14,                         /* header, 20 more */
    0x00, 0x0a, 0x80, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, /* information */
    0x02, 0x06, 0x00, 0x00, 0xc0, 0x00, 0x02, 0x00};                        /* SKS */

static void test_sense_fixed_format_full(void **state)
{
    uint8_t *b = exact(fixed_medium, sizeof(fixed_medium));
    struct keel_scsi_sense s;
    (void)state;
    assert_int_equal(keel_scsi_sense_decode(b, sizeof(fixed_medium), &s), KEEL_OK);
    assert_int_equal(s.response_code, 0x70);
    assert_false(s.descriptor);
    assert_false(s.deferred);
    assert_int_equal(s.key, KEEL_SCSI_SK_MEDIUM_ERROR);
    assert_int_equal(s.asc, 0x11);
    assert_int_equal(s.ascq, 0x00);
    assert_true(s.asc_valid);
    assert_true(s.info_valid);
    assert_true(s.info == 0x12345678u);
    assert_false(s.sks_valid);
    free(b);
}

static void test_sense_fixed_format_deferred_and_sense_key_specific(void **state)
{
    uint8_t d[18];
    struct keel_scsi_sense s;
    (void)state;
    memcpy(d, fixed_medium, sizeof(d));
    d[0] = 0x71; /* deferred, VALID clear */
    d[2] = 0x25; /* ILI + ILLEGAL REQUEST */
    d[12] = 0x24;
    d[15] = 0xc0; /* SKSV, C/D */
    d[16] = 0x00;
    d[17] = 0x02;
    assert_int_equal(keel_scsi_sense_decode(d, sizeof(d), &s), KEEL_OK);
    assert_true(s.deferred);
    assert_false(s.info_valid);
    assert_true(s.ili);
    assert_int_equal(s.key, KEEL_SCSI_SK_ILLEGAL_REQUEST);
    assert_true(s.sks_valid);
    assert_int_equal(s.sks[0], 0x40);
    assert_int_equal(s.sks[2], 0x02);
}

static void test_sense_fixed_format_truncated_by_transport(void **state)
{
    struct keel_scsi_sense s;
    uint8_t *b;
    (void)state;
    /* 3 bytes: the key only. */
    b = exact(fixed_medium, 3);
    assert_int_equal(keel_scsi_sense_decode(b, 3, &s), KEEL_OK);
    assert_int_equal(s.key, KEEL_SCSI_SK_MEDIUM_ERROR);
    assert_false(s.asc_valid);
    assert_false(s.info_valid);
    free(b);
    /* 13 bytes: ASC arrived, ASCQ did not: neither is used. */
    b = exact(fixed_medium, 13);
    assert_int_equal(keel_scsi_sense_decode(b, 13, &s), KEEL_OK);
    assert_true(s.info_valid);
    assert_false(s.asc_valid);
    assert_int_equal(s.asc, 0);
    free(b);
    /* 14 bytes: ASC/ASCQ complete. */
    b = exact(fixed_medium, 14);
    assert_int_equal(keel_scsi_sense_decode(b, 14, &s), KEEL_OK);
    assert_true(s.asc_valid);
    assert_int_equal(s.asc, 0x11);
    free(b);
    /* 2 bytes: not even the key. */
    b = exact(fixed_medium, 2);
    assert_int_equal(keel_scsi_sense_decode(b, 2, &s), KEEL_EPROTO);
    free(b);
}

static void test_sense_fixed_format_additional_length_limits_fields(void **state)
{
    uint8_t d[18];
    struct keel_scsi_sense s;
    (void)state;
    memcpy(d, fixed_medium, sizeof(d));
    d[7] = 0; /* the device says there is nothing after byte 7 */
    assert_int_equal(keel_scsi_sense_decode(d, sizeof(d), &s), KEEL_OK);
    assert_false(s.asc_valid);
    assert_true(s.info_valid);
    /* A huge additional length is clamped to what arrived. */
    d[7] = 0xff;
    d[15] = 0x80;
    assert_int_equal(keel_scsi_sense_decode(d, 16, &s), KEEL_OK);
    assert_true(s.asc_valid);
    assert_false(s.sks_valid); /* bytes 16..17 did not arrive */
}

static void test_sense_descriptor_format_full(void **state)
{
    uint8_t *b = exact(desc_illegal, sizeof(desc_illegal));
    struct keel_scsi_sense s;
    (void)state;
    assert_int_equal(keel_scsi_sense_decode(b, sizeof(desc_illegal), &s), KEEL_OK);
    assert_true(s.descriptor);
    assert_false(s.deferred);
    assert_int_equal(s.key, KEEL_SCSI_SK_ILLEGAL_REQUEST);
    assert_int_equal(s.asc, 0x24);
    assert_int_equal(s.ascq, 0x00);
    assert_true(s.asc_valid);
    assert_true(s.info_valid);
    assert_true(s.info == 0x1122334455667788ull);
    assert_true(s.sks_valid);
    assert_int_equal(s.sks[0], 0x40);
    assert_int_equal(s.sks[2], 0x02);
    free(b);
}

static void test_sense_descriptor_format_truncated_descriptor_is_ignored(void **state)
{
    struct keel_scsi_sense s;
    uint8_t *b;
    (void)state;
    /* Cut inside the information descriptor: header fields still decode, info does not. */
    b = exact(desc_illegal, 15);
    assert_int_equal(keel_scsi_sense_decode(b, 15, &s), KEEL_OK);
    assert_int_equal(s.asc, 0x24);
    assert_false(s.info_valid);
    assert_false(s.sks_valid);
    free(b);
    /* Cut inside the second descriptor. */
    b = exact(desc_illegal, 25);
    assert_int_equal(keel_scsi_sense_decode(b, 25, &s), KEEL_OK);
    assert_true(s.info_valid);
    assert_false(s.sks_valid);
    free(b);
    /* Two bytes: key only. One byte: nothing usable. */
    b = exact(desc_illegal, 2);
    assert_int_equal(keel_scsi_sense_decode(b, 2, &s), KEEL_OK);
    assert_int_equal(s.key, KEEL_SCSI_SK_ILLEGAL_REQUEST);
    assert_false(s.asc_valid);
    free(b);
    b = exact(desc_illegal, 1);
    assert_int_equal(keel_scsi_sense_decode(b, 1, &s), KEEL_EPROTO);
    free(b);
}

static void test_sense_descriptor_with_lying_lengths_stays_in_bounds(void **state)
{
    uint8_t d[28];
    uint8_t *b;
    struct keel_scsi_sense s;
    (void)state;
    memcpy(d, desc_illegal, sizeof(d));
    d[9] = 0xff; /* information descriptor claims 255 bytes */
    b = exact(d, sizeof(d));
    assert_int_equal(keel_scsi_sense_decode(b, sizeof(d), &s), KEEL_OK);
    assert_false(s.info_valid);
    assert_false(s.sks_valid);
    free(b);
    /* ADDITIONAL SENSE LENGTH 12: the information descriptor fits, the SKS one is cut off. */
    memcpy(d, desc_illegal, sizeof(d));
    d[7] = 12;
    assert_int_equal(keel_scsi_sense_decode(d, sizeof(d), &s), KEEL_OK);
    assert_true(s.info_valid);
    assert_false(s.sks_valid);
    /* Information descriptor too short to hold the field. */
    memcpy(d, desc_illegal, sizeof(d));
    d[9] = 0x02;
    d[7] = 4;
    assert_int_equal(keel_scsi_sense_decode(d, sizeof(d), &s), KEEL_OK);
    assert_false(s.info_valid);
}

static void test_sense_descriptor_deferred_73h(void **state)
{
    const uint8_t d[8] = {0x73, 0x06, 0x29, 0x00, 0, 0, 0, 0};
    struct keel_scsi_sense s;
    (void)state;
    assert_int_equal(keel_scsi_sense_decode(d, sizeof(d), &s), KEEL_OK);
    assert_true(s.deferred);
    assert_true(s.descriptor);
    assert_int_equal(s.key, KEEL_SCSI_SK_UNIT_ATTENTION);
    assert_int_equal(s.asc, 0x29);
}

static void test_sense_rejects_unknown_response_codes_and_empty_data(void **state)
{
    uint8_t d[18];
    struct keel_scsi_sense s;
    (void)state;
    memcpy(d, fixed_medium, sizeof(d));
    d[0] = 0x7f; /* vendor specific */
    assert_int_equal(keel_scsi_sense_decode(d, sizeof(d), &s), KEEL_EPROTO);
    d[0] = 0x00;
    assert_int_equal(keel_scsi_sense_decode(d, sizeof(d), &s), KEEL_EPROTO);
    d[0] = 0x74;
    assert_int_equal(keel_scsi_sense_decode(d, sizeof(d), &s), KEEL_EPROTO);
    assert_int_equal(keel_scsi_sense_decode(d, 0, &s), KEEL_EPROTO);
    assert_int_equal(keel_scsi_sense_decode(NULL, 0, &s), KEEL_EPROTO);
    assert_int_equal(keel_scsi_sense_decode(NULL, 4, &s), KEEL_EINVAL);
}

/* ---- names ---- */

static void test_status_names(void **state)
{
    (void)state;
    assert_string_equal(keel_scsi_status_name(0x00), "GOOD");
    assert_string_equal(keel_scsi_status_name(0x02), "CHECK CONDITION");
    assert_string_equal(keel_scsi_status_name(0x04), "CONDITION MET");
    assert_string_equal(keel_scsi_status_name(0x08), "BUSY");
    assert_string_equal(keel_scsi_status_name(0x18), "RESERVATION CONFLICT");
    assert_string_equal(keel_scsi_status_name(0x28), "TASK SET FULL");
    assert_string_equal(keel_scsi_status_name(0x30), "ACA ACTIVE");
    assert_string_equal(keel_scsi_status_name(0x40), "TASK ABORTED");
    assert_string_equal(keel_scsi_status_name(0x22), "UNKNOWN STATUS");
}

static void test_sense_key_names(void **state)
{
    (void)state;
    assert_string_equal(keel_scsi_sense_key_name(0x0), "NO SENSE");
    assert_string_equal(keel_scsi_sense_key_name(0x2), "NOT READY");
    assert_string_equal(keel_scsi_sense_key_name(0x3), "MEDIUM ERROR");
    assert_string_equal(keel_scsi_sense_key_name(0x4), "HARDWARE ERROR");
    assert_string_equal(keel_scsi_sense_key_name(0x5), "ILLEGAL REQUEST");
    assert_string_equal(keel_scsi_sense_key_name(0x6), "UNIT ATTENTION");
    assert_string_equal(keel_scsi_sense_key_name(0x7), "DATA PROTECT");
    assert_string_equal(keel_scsi_sense_key_name(0xb), "ABORTED COMMAND");
    assert_string_equal(keel_scsi_sense_key_name(0xc), "RESERVED");
    assert_string_equal(keel_scsi_sense_key_name(0xe), "MISCOMPARE");
    assert_non_null(keel_scsi_sense_key_name(0xff)); /* only the low nibble is a key */
}

static void test_asc_names_exact_family_and_unknown(void **state)
{
    (void)state;
    assert_string_equal(keel_scsi_asc_name(0x04, 0x01),
                        "LOGICAL UNIT IS IN PROCESS OF BECOMING READY");
    assert_string_equal(keel_scsi_asc_name(0x3a, 0x00), "MEDIUM NOT PRESENT");
    assert_string_equal(keel_scsi_asc_name(0x3a, 0x02), "MEDIUM NOT PRESENT - TRAY OPEN");
    assert_string_equal(keel_scsi_asc_name(0x29, 0x00),
                        "POWER ON, RESET, OR BUS DEVICE RESET OCCURRED");
    assert_string_equal(keel_scsi_asc_name(0x2a, 0x09), "CAPACITY DATA HAS CHANGED");
    assert_string_equal(keel_scsi_asc_name(0x3f, 0x0e), "REPORTED LUNS DATA HAS CHANGED");
    assert_string_equal(keel_scsi_asc_name(0x11, 0x00), "UNRECOVERED READ ERROR");
    assert_string_equal(keel_scsi_asc_name(0x0c, 0x00), "WRITE ERROR");
    assert_string_equal(keel_scsi_asc_name(0x20, 0x00), "INVALID COMMAND OPERATION CODE");
    assert_string_equal(keel_scsi_asc_name(0x21, 0x00), "LOGICAL BLOCK ADDRESS OUT OF RANGE");
    assert_string_equal(keel_scsi_asc_name(0x24, 0x00), "INVALID FIELD IN CDB");
    assert_string_equal(keel_scsi_asc_name(0x25, 0x00), "LOGICAL UNIT NOT SUPPORTED");
    /* Family fallbacks. */
    assert_string_equal(keel_scsi_asc_name(0x3a, 0x04), "MEDIUM NOT PRESENT");
    assert_string_equal(keel_scsi_asc_name(0x29, 0x05),
                        "POWER ON, RESET, OR BUS DEVICE RESET OCCURRED");
    assert_string_equal(keel_scsi_asc_name(0x2a, 0x0b), "PARAMETERS CHANGED");
    /* Unknown. */
    assert_null(keel_scsi_asc_name(0x80, 0x00));
    assert_null(keel_scsi_asc_name(0x21, 0x7f));
}

static void test_action_names(void **state)
{
    (void)state;
    assert_string_equal(keel_scsi_action_name(KEEL_SCSI_ACT_OK), "OK");
    assert_string_equal(keel_scsi_action_name(KEEL_SCSI_ACT_WAIT_READY), "WAIT_READY");
    assert_string_equal(keel_scsi_action_name(KEEL_SCSI_ACT_RESCAN), "RESCAN");
    assert_string_equal(keel_scsi_action_name(KEEL_SCSI_ACT_COUNT), "UNKNOWN");
}

/* ---- retry policy ---- */

struct policy_row {
    uint8_t status;
    bool has_sense;
    uint8_t key, asc, ascq;
    enum keel_scsi_action action;
    int err;
};

#define NS          false, 0, 0, 0
#define SK(k, a, q) true, (k), (a), (q)

static const struct policy_row policy[] = {
    {0x00, NS, KEEL_SCSI_ACT_OK, KEEL_OK},
    {0x04, NS, KEEL_SCSI_ACT_OK, KEEL_OK},
    {0x08, NS, KEEL_SCSI_ACT_RETRY, KEEL_EBUSY},
    {0x28, NS, KEEL_SCSI_ACT_RETRY, KEEL_EBUSY},
    {0x30, NS, KEEL_SCSI_ACT_RETRY, KEEL_EBUSY},
    {0x40, NS, KEEL_SCSI_ACT_RETRY, KEEL_EIO},
    {0x18, NS, KEEL_SCSI_ACT_FAIL, KEEL_EBUSY},
    {0x02, NS, KEEL_SCSI_ACT_RETRY, KEEL_EIO},
    {0x22, NS, KEEL_SCSI_ACT_FAIL, KEEL_EPROTO},
    {0x7e, NS, KEEL_SCSI_ACT_FAIL, KEEL_EPROTO},
    {0x02, SK(0x1, 0x17, 0x01), KEEL_SCSI_ACT_OK, KEEL_OK},
    {0x02, SK(0x0, 0x00, 0x00), KEEL_SCSI_ACT_RETRY, KEEL_EIO},
    {0x02, SK(0x6, 0x29, 0x00), KEEL_SCSI_ACT_RETRY, KEEL_EIO},
    {0x02, SK(0x6, 0x29, 0x07), KEEL_SCSI_ACT_RETRY, KEEL_EIO},
    {0x02, SK(0x6, 0x2a, 0x01), KEEL_SCSI_ACT_RETRY, KEEL_EIO},
    {0x02, SK(0x6, 0x2a, 0x09), KEEL_SCSI_ACT_CAPACITY_CHANGED, KEEL_EIO},
    {0x02, SK(0x6, 0x28, 0x00), KEEL_SCSI_ACT_CAPACITY_CHANGED, KEEL_EIO},
    {0x02, SK(0x6, 0x3f, 0x0e), KEEL_SCSI_ACT_RESCAN, KEEL_EIO},
    {0x02, SK(0x6, 0x3f, 0x03), KEEL_SCSI_ACT_RETRY, KEEL_EIO},
    {0x02, SK(0x2, 0x04, 0x00), KEEL_SCSI_ACT_WAIT_READY, KEEL_ETIMEDOUT},
    {0x02, SK(0x2, 0x04, 0x01), KEEL_SCSI_ACT_WAIT_READY, KEEL_ETIMEDOUT},
    {0x02, SK(0x2, 0x04, 0x04), KEEL_SCSI_ACT_WAIT_READY, KEEL_ETIMEDOUT},
    {0x02, SK(0x2, 0x04, 0x07), KEEL_SCSI_ACT_WAIT_READY, KEEL_ETIMEDOUT},
    {0x02, SK(0x2, 0x04, 0x0a), KEEL_SCSI_ACT_WAIT_READY, KEEL_ETIMEDOUT},
    {0x02, SK(0x2, 0x04, 0x02), KEEL_SCSI_ACT_START_UNIT, KEEL_EIO},
    {0x02, SK(0x2, 0x04, 0x03), KEEL_SCSI_ACT_FAIL, KEEL_EIO},
    {0x02, SK(0x2, 0x3a, 0x00), KEEL_SCSI_ACT_NO_MEDIUM, KEEL_ENOMEDIUM},
    {0x02, SK(0x2, 0x3a, 0x02), KEEL_SCSI_ACT_NO_MEDIUM, KEEL_ENOMEDIUM},
    {0x02, SK(0x2, 0x05, 0x00), KEEL_SCSI_ACT_FAIL, KEEL_EIO},
    {0x02, SK(0x3, 0x11, 0x00), KEEL_SCSI_ACT_FAIL_MEDIUM, KEEL_EIO},
    {0x02, SK(0x3, 0x0c, 0x00), KEEL_SCSI_ACT_FAIL_MEDIUM, KEEL_EIO},
    {0x02, SK(0x4, 0x44, 0x00), KEEL_SCSI_ACT_FAIL_MEDIUM, KEEL_EIO},
    {0x02, SK(0x5, 0x21, 0x00), KEEL_SCSI_ACT_FAIL, KEEL_ERANGE},
    {0x02, SK(0x5, 0x20, 0x00), KEEL_SCSI_ACT_FAIL, KEEL_ENOTSUP},
    {0x02, SK(0x5, 0x24, 0x00), KEEL_SCSI_ACT_FAIL, KEEL_ENOTSUP},
    {0x02, SK(0x5, 0x25, 0x00), KEEL_SCSI_ACT_FAIL, KEEL_ENODEV},
    {0x02, SK(0x5, 0x1a, 0x00), KEEL_SCSI_ACT_FAIL, KEEL_EINVAL},
    {0x02, SK(0x5, 0x26, 0x00), KEEL_SCSI_ACT_FAIL, KEEL_EINVAL},
    {0x02, SK(0x5, 0x55, 0x03), KEEL_SCSI_ACT_FAIL, KEEL_EIO},
    {0x02, SK(0x7, 0x27, 0x00), KEEL_SCSI_ACT_FAIL, KEEL_EROFS},
    {0x02, SK(0x7, 0x27, 0x07), KEEL_SCSI_ACT_FAIL, KEEL_EROFS},
    {0x02, SK(0x7, 0x00, 0x00), KEEL_SCSI_ACT_FAIL, KEEL_EROFS},
    {0x02, SK(0xb, 0x47, 0x00), KEEL_SCSI_ACT_RETRY, KEEL_EIO},
    {0x02, SK(0xb, 0x00, 0x00), KEEL_SCSI_ACT_RETRY, KEEL_EIO},
    {0x02, SK(0xb, 0x10, 0x01), KEEL_SCSI_ACT_FAIL, KEEL_EBADMSG},
    {0x02, SK(0x8, 0x00, 0x00), KEEL_SCSI_ACT_FAIL, KEEL_EIO},
    {0x02, SK(0xa, 0x00, 0x00), KEEL_SCSI_ACT_FAIL, KEEL_EIO},
    {0x02, SK(0xd, 0x00, 0x00), KEEL_SCSI_ACT_FAIL, KEEL_EIO},
    {0x02, SK(0xe, 0x1d, 0x00), KEEL_SCSI_ACT_FAIL, KEEL_EIO},
    {0x02, SK(0x9, 0x80, 0x00), KEEL_SCSI_ACT_FAIL, KEEL_EIO},
};

static void test_retry_policy_table(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(policy) / sizeof(policy[0]); i++) {
        const struct policy_row *r = &policy[i];
        struct keel_scsi_sense s;
        struct keel_scsi_verdict v;
        memset(&s, 0, sizeof(s));
        s.response_code = 0x70;
        s.key = r->key;
        s.asc = r->asc;
        s.ascq = r->ascq;
        s.asc_valid = true;
        v = keel_scsi_classify(r->status, r->has_sense ? &s : NULL);
        if (v.action != r->action || v.err != r->err)
            fail_msg("row %zu: status %02x key %x %02x/%02x -> %s/%s, want %s/%s", i, r->status,
                     r->key, r->asc, r->ascq, keel_scsi_action_name(v.action), keel_strerror(v.err),
                     keel_scsi_action_name(r->action), keel_strerror(r->err));
    }
}

static void test_retry_policy_ignores_sense_when_status_is_not_check_condition(void **state)
{
    struct keel_scsi_sense s;
    struct keel_scsi_verdict v;
    (void)state;
    memset(&s, 0, sizeof(s));
    s.key = KEEL_SCSI_SK_MEDIUM_ERROR;
    v = keel_scsi_classify(KEEL_SCSI_STATUS_GOOD, &s);
    assert_int_equal(v.action, KEEL_SCSI_ACT_OK);
    v = keel_scsi_classify(KEEL_SCSI_STATUS_BUSY, &s);
    assert_int_equal(v.action, KEEL_SCSI_ACT_RETRY);
}

static void test_decoded_sense_drives_policy_end_to_end(void **state)
{
    /* NOT READY 3A/00 in fixed format, and UNIT ATTENTION 2A/09 in descriptor format. */
    const uint8_t no_medium[18] = {0x70, 0, 0x02, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0x3a, 0x00};
    const uint8_t cap_changed[8] = {0x72, 0x06, 0x2a, 0x09, 0, 0, 0, 0};
    struct keel_scsi_sense s;
    struct keel_scsi_verdict v;
    (void)state;
    assert_int_equal(keel_scsi_sense_decode(no_medium, sizeof(no_medium), &s), KEEL_OK);
    v = keel_scsi_classify(KEEL_SCSI_STATUS_CHECK_CONDITION, &s);
    assert_int_equal(v.action, KEEL_SCSI_ACT_NO_MEDIUM);
    assert_int_equal(v.err, KEEL_ENOMEDIUM);
    assert_int_equal(keel_scsi_sense_decode(cap_changed, sizeof(cap_changed), &s), KEEL_OK);
    v = keel_scsi_classify(KEEL_SCSI_STATUS_CHECK_CONDITION, &s);
    assert_int_equal(v.action, KEEL_SCSI_ACT_CAPACITY_CHANGED);
    assert_int_equal(keel_scsi_sense_decode(fixed_medium, sizeof(fixed_medium), &s), KEEL_OK);
    v = keel_scsi_classify(KEEL_SCSI_STATUS_CHECK_CONDITION, &s);
    assert_int_equal(v.action, KEEL_SCSI_ACT_FAIL_MEDIUM);
    assert_true(s.info == 0x12345678u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sense_fixed_format_full),
        cmocka_unit_test(test_sense_fixed_format_deferred_and_sense_key_specific),
        cmocka_unit_test(test_sense_fixed_format_truncated_by_transport),
        cmocka_unit_test(test_sense_fixed_format_additional_length_limits_fields),
        cmocka_unit_test(test_sense_descriptor_format_full),
        cmocka_unit_test(test_sense_descriptor_format_truncated_descriptor_is_ignored),
        cmocka_unit_test(test_sense_descriptor_with_lying_lengths_stays_in_bounds),
        cmocka_unit_test(test_sense_descriptor_deferred_73h),
        cmocka_unit_test(test_sense_rejects_unknown_response_codes_and_empty_data),
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_sense_key_names),
        cmocka_unit_test(test_asc_names_exact_family_and_unknown),
        cmocka_unit_test(test_action_names),
        cmocka_unit_test(test_retry_policy_table),
        cmocka_unit_test(test_retry_policy_ignores_sense_when_status_is_not_check_condition),
        cmocka_unit_test(test_decoded_sense_drives_policy_end_to_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
