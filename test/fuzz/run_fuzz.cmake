# SPDX-License-Identifier: MIT
# Runs one libFuzzer target for CTest (test/fuzz/CMakeLists.txt): replays the corpus and regression
# inputs, then fuzzes for SECONDS with a scratch corpus in WORK (emptied first), and prints the final
# coverage line and exec/s. A regression directory that does not exist (no finding yet) is skipped,
# so a new regression/<target>/ needs no reconfigure. (Replay builds without libFuzzer run the
# harness executable directly: see fuzz_main.c.)
set(_dirs)
foreach(_d ${CORPUS} ${REGRESSION})
  if(IS_DIRECTORY ${_d})
    list(APPEND _dirs ${_d})
  endif()
endforeach()

file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
execute_process(
  COMMAND ${EXE} -max_total_time=${SECONDS} -timeout=25 -rss_limit_mb=2048 -print_final_stats=1
          -artifact_prefix=${WORK}/ ${WORK} ${_dirs}
  RESULT_VARIABLE _rc ERROR_VARIABLE _err OUTPUT_VARIABLE _out)
string(REGEX MATCHALL "#[0-9]+[\t ]+(DONE|INITED)[^\n]*" _lines "${_err}")
list(LENGTH _lines _n)
if(_n GREATER 0)
  list(GET _lines -1 _last)
  message("fuzz_${NAME}: ${_last}")
endif()
string(REGEX MATCH "stat::average_exec_per_sec:[ ]*[0-9]+" _eps "${_err}")
if(_eps)
  message("fuzz_${NAME}: ${_eps}")
endif()
if(NOT _rc EQUAL 0)
  message("${_err}")
  message(FATAL_ERROR "fuzz_${NAME}: libFuzzer exited with ${_rc}; crash input saved under ${WORK}")
endif()
