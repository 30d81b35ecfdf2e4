# Strict warnings for our own code only; generated protobuf code gets none of these.
set(MQ_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor)
# GCC 12 reports false -Wrestrict positives inside std::string at -O3 (GCC bug 105651).
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  list(APPEND MQ_WARNINGS -Wno-restrict)
endif()
if(MQ_WERROR)
  list(APPEND MQ_WARNINGS -Werror)
endif()

if(MQ_SANITIZE)
  message(STATUS "Sanitizers: ${MQ_SANITIZE}")
  add_compile_options(-fsanitize=${MQ_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${MQ_SANITIZE})
  if(MQ_SANITIZE MATCHES "thread")
    # Debian's protobuf and Abseil are built without TSan, and their headers change class layouts
    # when __SANITIZE_THREAD__ is set (protobuf's MapFieldBase gains two counters): with it our
    # objects would not match the libraries' and crash. Asio's fences, which TSan does not model,
    # are warned about (-Wtsan) in headers we do not own. client_alloc_test's counting operator
    # new trips -Wmismatched-new-delete once TSan's allocator is inlined around it.
    # MQ_TSAN tells our code instead.
    add_compile_options(-U__SANITIZE_THREAD__ -DMQ_TSAN=1 -Wno-tsan -Wno-mismatched-new-delete)
  endif()
endif()

if(MQ_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "MQ_FUZZ=ON needs clang (configure with CC=clang CXX=clang++)")
  endif()
  if(MQ_SANITIZE)
    message(FATAL_ERROR "MQ_FUZZ=ON brings its own sanitizers; leave MQ_SANITIZE empty")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
