# mq_cc_library(NAME n SRCS ... DEPS ...) -> static library mq_<n>, alias mq::<n>, strict warnings.
function(mq_cc_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(mq_${ARG_NAME} STATIC ${ARG_SRCS})
  add_library(mq::${ARG_NAME} ALIAS mq_${ARG_NAME})
  target_include_directories(mq_${ARG_NAME} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(mq_${ARG_NAME} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  target_compile_options(mq_${ARG_NAME} PRIVATE ${MQ_WARNINGS})
endfunction()

# mq_cc_binary(NAME n SRCS ... DEPS ...) -> executable in build/bin/.
function(mq_cc_binary)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS})
  target_compile_options(${ARG_NAME} PRIVATE ${MQ_WARNINGS})
endfunction()
