# ---- C API: libsipmetrics.so.0 (<sipmetrics/sipmetrics.h>) on the header-only C++ client ----------
# Target sipmetrics_c (alias sipmetrics::c, exported as sipmetrics::c), its install rules and its
# pkg-config file. Included by the root CMakeLists.txt right after the client target.
#
#   lib/<multiarch>/libsipmetrics.so.0.x.y, libsipmetrics.so.0     component lib
#   lib/<multiarch>/libsipmetrics.so, lib/<multiarch>/pkgconfig/sipmetrics.pc,
#   lib/<multiarch>/cmake/sipmetrics/sipmetricsCTargets*.cmake     component dev
#   (include/sipmetrics/sipmetrics.h is installed with the other client headers, component dev)
#
# The library is architecture-dependent, the rest of the CMake package (share/cmake/sipmetrics)
# is not: sipmetricsConfig.cmake includes the C targets from the library directory, when they
# are installed and built for the consumer's pointer size (find_package(sipmetrics COMPONENTS c)).
include(GNUInstallDirs)
enable_language(C)  # the C test programs and the example; the library itself is C++

add_library(sipmetrics_c SHARED client/src/sipmetrics_c.cpp)
add_library(sipmetrics::c ALIAS sipmetrics_c)
target_include_directories(sipmetrics_c PUBLIC
  $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/client/include> $<INSTALL_INTERFACE:include>)
target_link_libraries(sipmetrics_c PRIVATE sipmetrics::client)
# SIPMETRICS_C_LIBRARY: the client's per-thread exclusive-cells array is the exported
# sipmetrics_thread_cells_ that the header's inline updates read (lane.hpp).
target_compile_definitions(sipmetrics_c PRIVATE SIPMETRICS_VERSION="${PROJECT_VERSION}"
                           SIPMETRICS_C_LIBRARY)
# initial-exec TLS: the client's thread_local lane arrays are read on every update; the
# general-dynamic model of a shared library costs a __tls_get_addr call each time, and TLS
# descriptors (-mtls-dialect=gnu2) fall back, when dlopen() finds no static TLS left, to a glibc
# 2.36 path that does not preserve vector registers. docs/c-api.md has the figures.
target_compile_options(sipmetrics_c PRIVATE ${SIPMETRICS_WARNINGS} -ftls-model=initial-exec)
set(SIPMETRICS_C_MAP ${CMAKE_CURRENT_SOURCE_DIR}/client/src/sipmetrics.map)
target_link_options(sipmetrics_c PRIVATE "LINKER:--version-script=${SIPMETRICS_C_MAP}"
                    "LINKER:-z,defs" "LINKER:--as-needed")
set_target_properties(sipmetrics_c PROPERTIES
  OUTPUT_NAME sipmetrics
  VERSION ${PROJECT_VERSION}
  SOVERSION 0
  CXX_VISIBILITY_PRESET hidden
  VISIBILITY_INLINES_HIDDEN ON
  LINK_DEPENDS ${SIPMETRICS_C_MAP}
  EXPORT_NAME c)

install(TARGETS sipmetrics_c EXPORT sipmetricsCTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT lib NAMELINK_COMPONENT dev)
set(SIPMETRICS_C_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/sipmetrics)
install(EXPORT sipmetricsCTargets NAMESPACE sipmetrics:: DESTINATION ${SIPMETRICS_C_CMAKEDIR}
        COMPONENT dev)
# For sipmetricsConfig.cmake.in: where the C targets are, relative to the prefix.
if(IS_ABSOLUTE "${SIPMETRICS_C_CMAKEDIR}")
  message(FATAL_ERROR "CMAKE_INSTALL_LIBDIR must be relative to the prefix (the CMake package is relocatable)")
endif()

# sipmetrics.pc, written at install time so that its prefix is the one installed to
# (`cmake --install --prefix P` included; DESTDIR is not part of it), as the systemd unit is.
install(CODE "
  set(PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  set(PC_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
  if(NOT IS_ABSOLUTE \"\${PC_LIBDIR}\")
    set(PC_LIBDIR \"\\\${prefix}/\${PC_LIBDIR}\")
  endif()
  set(PC_INCLUDEDIR \"${CMAKE_INSTALL_INCLUDEDIR}\")
  if(NOT IS_ABSOLUTE \"\${PC_INCLUDEDIR}\")
    set(PC_INCLUDEDIR \"\\\${prefix}/\${PC_INCLUDEDIR}\")
  endif()
  set(PROJECT_VERSION \"${PROJECT_VERSION}\")
  configure_file(\"${CMAKE_CURRENT_SOURCE_DIR}/cmake/sipmetrics.pc.in\"
                 \"${PROJECT_BINARY_DIR}/install/sipmetrics.pc\" @ONLY)
  set(pcdir \"${CMAKE_INSTALL_LIBDIR}/pkgconfig\")
  if(NOT IS_ABSOLUTE \"\${pcdir}\")
    set(pcdir \"\${CMAKE_INSTALL_PREFIX}/\${pcdir}\")
  endif()
  file(INSTALL DESTINATION \"\${pcdir}\" TYPE FILE FILES \"${PROJECT_BINARY_DIR}/install/sipmetrics.pc\")
" COMPONENT dev)

if(SIPMETRICS_BUILD_EXAMPLES)
  add_executable(sipmetrics-c-example examples/c/sipmetrics_example.c)
  target_link_libraries(sipmetrics-c-example PRIVATE sipmetrics::c)
  set_target_properties(sipmetrics-c-example PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON
                        C_EXTENSIONS OFF)
  target_compile_options(sipmetrics-c-example PRIVATE -Wall -Wextra -Wpedantic)
endif()
# ==== End of C API ===================================================================================
