# One static library per source folder: src/<name>/*.cpp -> klab_<name>.
set(KLAB_WARNINGS -Wall -Wextra)
set(KLAB_ALL_COMPONENTS "" CACHE INTERNAL "")

function(_klab_common_setup target)
  target_include_directories(${target} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/src>
    $<INSTALL_INTERFACE:include>)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:${KLAB_WARNINGS}>
    $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr -Xcompiler=-Wall,-Wextra -lineinfo>)
  target_compile_definitions(${target} PUBLIC KLAB_HAS_CUDA=$<BOOL:${KLAB_HAS_CUDA}>)
  set_property(CACHE KLAB_ALL_COMPONENTS PROPERTY VALUE "${KLAB_ALL_COMPONENTS};${target}")
endfunction()

function(klab_component name)
  cmake_parse_arguments(ARG "" "" "DEPS" ${ARGN})
  file(GLOB _srcs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/${name}/*.cpp)
  if(_srcs)
    add_library(klab_${name} STATIC ${_srcs})
    _klab_common_setup(klab_${name})
    target_link_libraries(klab_${name} PUBLIC ${ARG_DEPS})
  else()
    add_library(klab_${name} INTERFACE)
    target_link_libraries(klab_${name} INTERFACE ${ARG_DEPS})
    set_property(CACHE KLAB_ALL_COMPONENTS PROPERTY VALUE "${KLAB_ALL_COMPONENTS};klab_${name}")
  endif()
endfunction()

# src/cuda/<family>/*.cu + *.cpp -> klab_cuda_<family>. Shared device helpers live in
# src/cuda/common/ (headers only).
function(klab_cuda_family family)
  file(GLOB _srcs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/cuda/${family}/*.cu
       ${PROJECT_SOURCE_DIR}/src/cuda/${family}/*.cpp)
  if(NOT _srcs)
    return()
  endif()
  add_library(klab_cuda_${family} STATIC ${_srcs})
  _klab_common_setup(klab_cuda_${family})
  target_link_libraries(klab_cuda_${family} PUBLIC klab_core klab_registry CUDA::cudart
                                                   CUDA::cublas)
  set_target_properties(klab_cuda_${family} PROPERTIES CUDA_SEPARABLE_COMPILATION OFF)
endfunction()
