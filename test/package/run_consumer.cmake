# SPDX-License-Identifier: MIT
# Builds and runs test/package/consumer.c against Keel one way (MODE): find_package, pkg_config or
# add_subdirectory. Run by CTest with -D variables from test/package/CMakeLists.txt.
cmake_minimum_required(VERSION 3.25)

# run(<what> <command...>): run a command, fail the test with its output if it fails.
function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _out)
  if(NOT _rc EQUAL 0)
    string(JOIN " " _cmd ${ARGN})
    message(FATAL_ERROR "${what} failed (${_rc}): ${_cmd}\n${_out}")
  endif()
  set(RUN_OUTPUT "${_out}" PARENT_SCOPE)
endfunction()

function(run_consumer exe)
  run("consumer" ${exe})
  if(NOT RUN_OUTPUT MATCHES "keel consumer ok: version ${KEEL_VERSION}")
    message(FATAL_ERROR "consumer printed:\n${RUN_OUTPUT}")
  endif()
  message(STATUS "${RUN_OUTPUT}")
endfunction()

# Installs the Keel build tree into <prefix> and checks the package's files are there.
function(install_keel prefix)
  run("cmake --install" ${CMAKE_COMMAND} --install ${KEEL_BINARY_DIR} --prefix ${prefix})
  foreach(_f ${KEEL_INCLUDEDIR}/keel/hal.h ${KEEL_INCLUDEDIR}/keel/error.h
             ${KEEL_INCLUDEDIR}/keel/version.h ${KEEL_INCLUDEDIR}/keel/keel_config.h
             ${KEEL_LIBDIR}/libkeel_core.a ${KEEL_LIBDIR}/cmake/keel/keelConfig.cmake
             ${KEEL_LIBDIR}/cmake/keel/keelConfigVersion.cmake
             ${KEEL_LIBDIR}/cmake/keel/keelTargets.cmake ${KEEL_LIBDIR}/pkgconfig/keel.pc)
    if(NOT EXISTS ${prefix}/${_f})
      message(FATAL_ERROR "install is missing ${_f}")
    endif()
  endforeach()
endfunction()

set(_cmake_args -G "${GENERATOR}" -DCMAKE_C_COMPILER=${CC} "-DCMAKE_C_FLAGS=${SANITIZE_FLAGS}"
                "-DCMAKE_EXE_LINKER_FLAGS=${SANITIZE_FLAGS}")
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

if(MODE STREQUAL "find_package")
  install_keel(${WORK_DIR}/prefix)
  run("configure consumer" ${CMAKE_COMMAND} -S ${CONSUMER_DIR}/find_package -B ${WORK_DIR}/build
      ${_cmake_args} -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DKEEL_EXPECTED_VERSION=${KEEL_VERSION}
      -DKEEL_EXPECTED_COMPONENTS=${KEEL_COMPONENTS})
  message(STATUS "${RUN_OUTPUT}")
  run("build consumer" ${CMAKE_COMMAND} --build ${WORK_DIR}/build -j2)
  run_consumer(${WORK_DIR}/build/consumer)

elseif(MODE STREQUAL "pkg_config")
  if(NOT PKG_CONFIG)
    message(FATAL_ERROR "pkg-config not found (Debian package pkg-config)")
  endif()
  install_keel(${WORK_DIR}/prefix)
  set(_pc ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${WORK_DIR}/prefix/${KEEL_LIBDIR}/pkgconfig
          ${PKG_CONFIG})
  run("pkg-config --modversion" ${_pc} --modversion keel)
  string(STRIP "${RUN_OUTPUT}" _v)
  if(NOT _v STREQUAL KEEL_VERSION)
    message(FATAL_ERROR "pkg-config says keel ${_v}, expected ${KEEL_VERSION}")
  endif()
  run("pkg-config --cflags" ${_pc} --cflags keel)
  separate_arguments(_cflags UNIX_COMMAND "${RUN_OUTPUT}")
  run("pkg-config --libs" ${_pc} --libs keel)
  separate_arguments(_libs UNIX_COMMAND "${RUN_OUTPUT}")
  string(JOIN " " _shown ${_cflags} ${_libs})
  message(STATUS "pkg-config --cflags --libs keel: ${_shown}")
  separate_arguments(_san UNIX_COMMAND "${SANITIZE_FLAGS}")
  run("compile consumer" ${CC} ${_san} ${_cflags} ${CONSUMER_DIR}/consumer.c
      -o ${WORK_DIR}/consumer ${_libs})
  run_consumer(${WORK_DIR}/consumer)

elseif(MODE STREQUAL "add_subdirectory")
  run("configure consumer" ${CMAKE_COMMAND} -S ${CONSUMER_DIR}/add_subdirectory
      -B ${WORK_DIR}/build ${_cmake_args} -DKEEL_SOURCE_DIR=${KEEL_SOURCE_DIR})
  run("build consumer" ${CMAKE_COMMAND} --build ${WORK_DIR}/build -j2)
  run_consumer(${WORK_DIR}/build/consumer)
  # No install side effects: installing the consumer installs the consumer and nothing of Keel's.
  run("install consumer" ${CMAKE_COMMAND} --install ${WORK_DIR}/build --prefix ${WORK_DIR}/prefix)
  file(GLOB_RECURSE _installed RELATIVE ${WORK_DIR}/prefix ${WORK_DIR}/prefix/*)
  if(NOT _installed STREQUAL "bin/consumer")
    message(FATAL_ERROR "installing the consumer also installed Keel files: ${_installed}")
  endif()
  message(STATUS "installed only: ${_installed}")
else()
  message(FATAL_ERROR "unknown MODE '${MODE}'")
endif()
