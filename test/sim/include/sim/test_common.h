/* SPDX-License-Identifier: MIT */
/* sim/test_common.h - the includes every cmocka test needs, in the order cmocka requires. */
#ifndef SIM_TEST_COMMON_H
#define SIM_TEST_COMMON_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#endif
