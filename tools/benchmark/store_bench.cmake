# store_bench: db_bench-style benchmark of mq::store (included from tools/CMakeLists.txt).
mq_cc_binary(NAME store_bench
  SRCS ${CMAKE_CURRENT_SOURCE_DIR}/benchmark/store_bench.cc
  DEPS mq::store)
