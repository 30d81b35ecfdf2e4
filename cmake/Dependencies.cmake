# Every third-party dependency comes from Debian 12 packages (see tools/deps.sh).
find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
endif()

find_package(Threads REQUIRED)
find_package(Protobuf 3.21 REQUIRED)  # module mode: Debian ships no protobuf-config.cmake
find_package(gRPC 1.51 CONFIG REQUIRED)
find_package(fmt 9 CONFIG REQUIRED)
find_package(spdlog 1.10 CONFIG REQUIRED)
find_package(CLI11 2 CONFIG REQUIRED)
find_package(OpenSSL 3 REQUIRED)  # MD5 body digests and HMAC-SHA1 of the v2 protocol
if(MQ_BUILD_TESTS)
  find_package(GTest 1.12 CONFIG REQUIRED)
endif()

# Standalone Asio has neither a CMake config nor a .pc file.
find_path(ASIO_INCLUDE_DIR asio.hpp REQUIRED)
add_library(mq_asio INTERFACE)
add_library(asio::asio ALIAS mq_asio)
target_include_directories(mq_asio SYSTEM INTERFACE ${ASIO_INCLUDE_DIR})
target_compile_definitions(mq_asio INTERFACE ASIO_STANDALONE ASIO_NO_DEPRECATED)
target_link_libraries(mq_asio INTERFACE Threads::Threads)
