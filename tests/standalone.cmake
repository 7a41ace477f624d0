# The rooms hold (docs/architecture.md):
#   - each public header compiles on its own with only its own room's include folders: shared/
#     headers with shared/include alone (so none can reach into client/), client headers with
#     shared/include and client/include;
#   - the daemon's build cannot see the client: a file of the daemon's that includes the client
#     fails to compile, with the daemon's own link line (daemon_cannot_include_client);
#   - a worker builds with nothing but the headers, Boost's headers, -pthread and -lrt (what the
#     README promises).
file(GLOB_RECURSE SIPMETRICS_SHARED_HEADERS ${PROJECT_SOURCE_DIR}/shared/include/sipmetrics/*.hpp)
file(GLOB_RECURSE SIPMETRICS_CLIENT_HEADERS ${PROJECT_SOURCE_DIR}/client/include/sipmetrics/*.hpp)
function(sipmetrics_header_alone header)
  file(RELATIVE_PATH rel ${PROJECT_SOURCE_DIR} ${header})
  string(MAKE_C_IDENTIFIER ${rel} id)
  set(tu ${CMAKE_CURRENT_BINARY_DIR}/header_alone/${id}.cpp)
  file(WRITE ${tu} "#include \"${header}\"\n")
  set(includes)
  foreach(dir ${ARGN})
    list(APPEND includes -I${dir})
  endforeach()
  add_test(NAME header_alone_${id}
           COMMAND ${CMAKE_CXX_COMPILER} -std=c++20 -fsyntax-only -Wall -Wextra -Werror ${includes} ${tu})
endfunction()
foreach(header ${SIPMETRICS_SHARED_HEADERS})
  sipmetrics_header_alone(${header} ${PROJECT_SOURCE_DIR}/shared/include)
endforeach()
foreach(header ${SIPMETRICS_CLIENT_HEADERS})
  sipmetrics_header_alone(${header} ${PROJECT_SOURCE_DIR}/shared/include ${PROJECT_SOURCE_DIR}/client/include)
endforeach()

# A daemon part that includes the client, built only by the test below with the daemon's own
# usage requirements (sipmetricsd_http and everything it links).
set(_probe ${CMAKE_CURRENT_BINARY_DIR}/daemon_include_probe.cpp)
file(WRITE ${_probe} "#include <sipmetrics/client.hpp>\n")
add_library(daemon_include_probe OBJECT EXCLUDE_FROM_ALL ${_probe})
target_link_libraries(daemon_include_probe PRIVATE sipmetricsd_http)
add_test(NAME daemon_cannot_include_client
         COMMAND ${CMAKE_COMMAND} --build ${PROJECT_BINARY_DIR} --target daemon_include_probe)
set_tests_properties(daemon_cannot_include_client PROPERTIES
  PASS_REGULAR_EXPRESSION "sipmetrics/client\\.hpp: No such file or directory"
  RUN_SERIAL TRUE)

add_test(NAME client_minimal_build
         COMMAND ${CMAKE_CXX_COMPILER} -std=c++20 -O2
                 -I${PROJECT_SOURCE_DIR}/shared/include -I${PROJECT_SOURCE_DIR}/client/include
                 ${PROJECT_SOURCE_DIR}/examples/demo_workload.cpp
                 -o ${CMAKE_CURRENT_BINARY_DIR}/demo_minimal_build -pthread -lrt)
