# ctest driver: install the client component of BUILD_DIR into a temp prefix, then configure,
# build and run tests/client_package against it. Usage: cmake -DBUILD_DIR=.. -DSRC_DIR=.. -DWORK_DIR=.. -P this
# -DSANITIZE=address,undefined when the installed libraries were built with sanitizers.
file(REMOVE_RECURSE ${WORK_DIR})
set(extra "")
if(SANITIZE)
  set(extra ";-DCMAKE_CXX_FLAGS=-fsanitize=${SANITIZE};-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=${SANITIZE}")
endif()
foreach(step
    "${CMAKE_COMMAND};--install;${BUILD_DIR};--component;client;--prefix;${WORK_DIR}/prefix"
    "${CMAKE_COMMAND};-S;${SRC_DIR};-B;${WORK_DIR}/build;-G;Ninja;-DCMAKE_BUILD_TYPE=Release;-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix${extra}"
    "${CMAKE_COMMAND};--build;${WORK_DIR}/build;-j1"
    "${WORK_DIR}/build/outside_app")
  execute_process(COMMAND ${step} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "step failed (${rc}): ${step}")
  endif()
endforeach()
file(REMOVE_RECURSE ${WORK_DIR})
