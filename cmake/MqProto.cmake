# mq_proto_library(NAME n ROOT dir PROTOS a.proto b.proto) -> mq_<n> with .pb and .grpc.pb sources.
# One protoc run per file writes both; the outputs depend on protoc and the grpc plugin binaries.
function(mq_proto_library)
  cmake_parse_arguments(ARG "" "NAME;ROOT" "PROTOS" ${ARGN})
  set(gen_dir ${CMAKE_CURRENT_BINARY_DIR}/gen)
  file(MAKE_DIRECTORY ${gen_dir})
  set(srcs)
  foreach(proto ${ARG_PROTOS})
    string(REGEX REPLACE "\\.proto$" "" stem ${proto})
    set(out ${gen_dir}/${stem}.pb.cc ${gen_dir}/${stem}.pb.h
            ${gen_dir}/${stem}.grpc.pb.cc ${gen_dir}/${stem}.grpc.pb.h)
    add_custom_command(
      OUTPUT ${out}
      COMMAND protobuf::protoc
      ARGS --proto_path=${ARG_ROOT} --cpp_out=${gen_dir} --grpc_out=${gen_dir}
           --plugin=protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_cpp_plugin> ${ARG_ROOT}/${proto}
      DEPENDS ${ARG_ROOT}/${proto} protobuf::protoc gRPC::grpc_cpp_plugin
      COMMENT "protoc ${proto}"
      VERBATIM)
    list(APPEND srcs ${out})
  endforeach()
  add_library(mq_${ARG_NAME} STATIC ${srcs})
  add_library(mq::${ARG_NAME} ALIAS mq_${ARG_NAME})
  target_include_directories(mq_${ARG_NAME} SYSTEM PUBLIC ${gen_dir})
  target_link_libraries(mq_${ARG_NAME} PUBLIC protobuf::libprotobuf gRPC::grpc++)
endfunction()
