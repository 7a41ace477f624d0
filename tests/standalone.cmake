# Each public header compiles on its own, and a worker builds with nothing but the client headers,
# Boost's headers, -pthread and -lrt (what the README promises).
set(SIPMETRICS_PUBLIC_HEADERS
  ${PROJECT_SOURCE_DIR}/shared/include/sipmetrics/layout.hpp
  ${PROJECT_SOURCE_DIR}/client/include/sipmetrics/client.hpp)
file(GLOB SIPMETRICS_DETAIL_HEADERS ${PROJECT_SOURCE_DIR}/client/include/sipmetrics/*.hpp
     ${PROJECT_SOURCE_DIR}/client/include/sipmetrics/detail/*.hpp)
list(APPEND SIPMETRICS_PUBLIC_HEADERS ${SIPMETRICS_DETAIL_HEADERS})
list(REMOVE_DUPLICATES SIPMETRICS_PUBLIC_HEADERS)
foreach(header ${SIPMETRICS_PUBLIC_HEADERS})
  file(RELATIVE_PATH rel ${PROJECT_SOURCE_DIR} ${header})
  string(MAKE_C_IDENTIFIER ${rel} id)
  set(tu ${CMAKE_CURRENT_BINARY_DIR}/header_alone/${id}.cpp)
  file(WRITE ${tu} "#include \"${header}\"\n")
  add_test(NAME header_alone_${id}
           COMMAND ${CMAKE_CXX_COMPILER} -std=c++20 -fsyntax-only -Wall -Wextra -Werror
                   -I${PROJECT_SOURCE_DIR}/shared/include -I${PROJECT_SOURCE_DIR}/client/include
                   ${tu})
endforeach()
add_test(NAME client_minimal_build
         COMMAND ${CMAKE_CXX_COMPILER} -std=c++20 -O2
                 -I${PROJECT_SOURCE_DIR}/shared/include -I${PROJECT_SOURCE_DIR}/client/include
                 ${PROJECT_SOURCE_DIR}/examples/demo_workload.cpp
                 -o ${CMAKE_CURRENT_BINARY_DIR}/demo_minimal_build -pthread -lrt)
