# SPDX-License-Identifier: MIT
# Install rules and the keel package: static libraries, public headers, keelTargets.cmake (keel::hal,
# keel::core, keel::nvme, keel::virtio, ...), keelConfig.cmake + version file, and keel.pc.
# Included by the top-level CMakeLists.txt only when KEEL_INSTALL is ON (default: Keel is the
# top-level project), so add_subdirectory() users get no install rules from Keel.
#
# Convention for components: a target joins the package by being in the global property
# KEEL_EXPORT_TARGETS. keel_driver_library() adds its target automatically; other targets register
# themselves:
#     set_property(GLOBAL APPEND PROPERTY KEEL_EXPORT_TARGETS keel_foo)
# and set EXPORT_NAME (keel_foo -> EXPORT_NAME foo -> keel::foo). Public headers are installed from
# <source dir of the target>/include (the keel/ directory in it) into ${CMAKE_INSTALL_INCLUDEDIR}.
# The INSTALL_INTERFACE include directory of each target must be ${CMAKE_INSTALL_INCLUDEDIR}.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

get_property(_keel_targets GLOBAL PROPERTY KEEL_EXPORT_TARGETS)
list(REMOVE_DUPLICATES _keel_targets)
set(KEEL_PACKAGE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/keel)

install(TARGETS ${_keel_targets} EXPORT keelTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(_keel_header_dirs)
set(_keel_components)
set(_keel_pc_libs)
foreach(_t IN LISTS _keel_targets)
  get_target_property(_dir ${_t} SOURCE_DIR)
  if(IS_DIRECTORY ${_dir}/include AND NOT ${_dir}/include IN_LIST _keel_header_dirs)
    list(APPEND _keel_header_dirs ${_dir}/include)
    install(DIRECTORY ${_dir}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
            FILES_MATCHING PATTERN "*.h")
  endif()
  get_target_property(_name ${_t} EXPORT_NAME)
  if(NOT _name)
    set(_name ${_t})
  endif()
  list(APPEND _keel_components ${_name})
  # keel.pc links every driver library except the opt-in libc_min; the reverse registration order
  # puts dependents (nvme, virtio) before what they depend on (core) for static linking.
  get_target_property(_type ${_t} TYPE)
  if(_type STREQUAL "STATIC_LIBRARY" AND NOT _name STREQUAL "libc_min")
    get_target_property(_out ${_t} OUTPUT_NAME)
    if(NOT _out)
      set(_out ${_t})
    endif()
    list(PREPEND _keel_pc_libs "-l${_out}")
  endif()
endforeach()

install(EXPORT keelTargets NAMESPACE keel:: FILE keelTargets.cmake DESTINATION ${KEEL_PACKAGE_DIR})

set(KEEL_COMPONENTS ${_keel_components})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/keelConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/keelConfig.cmake
                              INSTALL_DESTINATION ${KEEL_PACKAGE_DIR})
# 0.x: a minor release may break the API, so only the same minor version is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/keelConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/keelConfig.cmake ${PROJECT_BINARY_DIR}/keelConfigVersion.cmake
        DESTINATION ${KEEL_PACKAGE_DIR})

# keel.pc is relocatable: its prefix is found from the .pc file's own location (${pcfiledir}), so
# `cmake --install --prefix <anywhere>` works without reconfiguring.
foreach(_v LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_v}}")
    set(KEEL_PC_${_v} "${CMAKE_INSTALL_${_v}}")
  else()
    set(KEEL_PC_${_v} "\${prefix}/${CMAKE_INSTALL_${_v}}")
  endif()
endforeach()
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(KEEL_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH _rel "/keel-prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/keel-prefix")
  string(REGEX REPLACE "/$" "" _rel "${_rel}")
  set(KEEL_PC_PREFIX "\${pcfiledir}/${_rel}")
endif()
string(JOIN " " KEEL_PC_LIBS ${_keel_pc_libs})
configure_file(${CMAKE_CURRENT_LIST_DIR}/keel.pc.in ${PROJECT_BINARY_DIR}/keel.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/keel.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
