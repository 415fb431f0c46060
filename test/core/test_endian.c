/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <keel/endian.h>

static void test_le_loads_read_bytes_in_little_endian_order(void **state)
{
    const uint8_t b[8] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
    (void)state;
    assert_int_equal(keel_ld_le16(b), 0x0201);
    assert_int_equal(keel_ld_le32(b), 0x04030201u);
    assert_true(keel_ld_le64(b) == 0x0807060504030201ull);
}

static void test_be_loads_read_bytes_in_big_endian_order(void **state)
{
    const uint8_t b[8] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
    (void)state;
    assert_int_equal(keel_ld_be16(b), 0x0102);
    assert_int_equal(keel_ld_be32(b), 0x01020304u);
    assert_true(keel_ld_be64(b) == 0x0102030405060708ull);
}

static void test_stores_round_trip_at_every_alignment(void **state)
{
    uint8_t buf[24];
    unsigned off;
    (void)state;
    for (off = 0; off < 8; off++) {
        memset(buf, 0, sizeof(buf));
        keel_st_le64(buf + off, 0x1122334455667788ull);
        assert_int_equal(buf[off], 0x88);
        assert_int_equal(buf[off + 7], 0x11);
        assert_true(keel_ld_le64(buf + off) == 0x1122334455667788ull);
        keel_st_be64(buf + off, 0x1122334455667788ull);
        assert_int_equal(buf[off], 0x11);
        assert_true(keel_ld_be64(buf + off) == 0x1122334455667788ull);
        keel_st_le32(buf + off, 0xa1b2c3d4u);
        assert_int_equal(keel_ld_le32(buf + off), 0xa1b2c3d4u);
        keel_st_be32(buf + off, 0xa1b2c3d4u);
        assert_int_equal(buf[off], 0xa1);
        keel_st_le16(buf + off, 0xbeef);
        assert_int_equal(buf[off], 0xef);
        keel_st_be16(buf + off, 0xbeef);
        assert_int_equal(buf[off], 0xbe);
        assert_int_equal(keel_ld_be16(buf + off), 0xbeef);
    }
}

static void test_value_conversions_match_memory_layout(void **state)
{
    uint32_t v32 = keel_cpu_to_le32(0x01020304u);
    uint16_t v16 = keel_cpu_to_be16(0x0102);
    uint64_t v64 = keel_cpu_to_le64(0x0102030405060708ull);
    uint8_t b[8];
    (void)state;
    memcpy(b, &v32, 4);
    assert_int_equal(b[0], 0x04);
    memcpy(b, &v16, 2);
    assert_int_equal(b[0], 0x01);
    memcpy(b, &v64, 8);
    assert_int_equal(b[0], 0x08);
    assert_int_equal(keel_le32_to_cpu(v32), 0x01020304u);
    assert_int_equal(keel_be16_to_cpu(v16), 0x0102);
    assert_int_equal(keel_bswap16(0x1234), 0x3412);
    assert_int_equal(keel_bswap32(0x12345678u), 0x78563412u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_le_loads_read_bytes_in_little_endian_order),
        cmocka_unit_test(test_be_loads_read_bytes_in_big_endian_order),
        cmocka_unit_test(test_stores_round_trip_at_every_alignment),
        cmocka_unit_test(test_value_conversions_match_memory_layout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
