# Every third-party dependency, found once here. See the README's "Dependencies" for why each is used.

find_package(Threads REQUIRED)
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(absl CONFIG REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED)
find_package(GTest CONFIG REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
# Gloo's headers (Debian's libgloo-dev) for c10d's ProcessGroupGloo.hpp, which names Gloo types.
# The Gloo that runs is LibTorch's own (libtorch_cpu exports it); Debian's libgloo is never linked,
# as two Gloos in one process would call into each other (learner/gloo_ops.cc).
find_path(PELICAN_GLOO_INCLUDE_DIR gloo/rendezvous/store.h REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
find_package(ICU REQUIRED COMPONENTS uc)

# LibTorch: the one inside the torch wheel of the virtual environment that scripts/install-deps.sh
# makes (.venv in the source tree; a CUDA build). PELICAN_PYTHON names another interpreter whose
# torch to use; Torch_DIR points at any other LibTorch (e.g. an unpacked libtorch zip).
set(PELICAN_PYTHON "${CMAKE_SOURCE_DIR}/.venv/bin/python" CACHE FILEPATH
    "Python with the torch wheel pelican builds against and the HF packages its tests use")
if(NOT Torch_DIR AND EXISTS "${PELICAN_PYTHON}")
  execute_process(
    COMMAND "${PELICAN_PYTHON}" -c
            "import os, torch.utils; print(torch.utils.cmake_prefix_path + ';' + os.path.dirname(torch.__file__))"
    OUTPUT_VARIABLE _pelican_torch_prefix OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE _pelican_torch_rc)
  if(_pelican_torch_rc EQUAL 0)
    # The torch package folder as a prefix too: TorchConfig's find_library() calls would otherwise
    # take a system libtorch.so (Debian's libtorch-dev) over the wheel's own torch/lib.
    list(PREPEND CMAKE_PREFIX_PATH ${_pelican_torch_prefix})
  endif()
endif()
find_package(Torch 2.0 REQUIRED)
message(STATUS "pelican: LibTorch ${Torch_VERSION} at ${Torch_DIR}")
# What pelican links of LibTorch. With PELICAN_WITH_CUDA=OFF only its CPU library: the `torch`
# target of a CUDA build (the wheel's) also links torch_cuda, which would make a CPU-only binary
# (the CPU image) load cuDNN, cuBLAS and friends at start-up.
if(PELICAN_WITH_CUDA OR NOT TARGET torch_cpu)
  set(PELICAN_TORCH_LIBRARIES ${TORCH_LIBRARIES})
else()
  add_library(pelican_torch_cpu INTERFACE)
  target_include_directories(pelican_torch_cpu SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
  target_link_libraries(pelican_torch_cpu INTERFACE torch_cpu c10)
  target_compile_features(pelican_torch_cpu INTERFACE cxx_std_20)
  set(PELICAN_TORCH_LIBRARIES pelican_torch_cpu)
endif()

find_program(GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)

# NCCL: a CUDA LibTorch (the torch wheel's) loads the NCCL and CUDA runtime of the wheels beside it
# (site-packages/nvidia/...), so pelican's NCCL code compiles and links against those same
# libraries, never a second copy from the system toolkit: two libnccl.so.2 in one process would be
# whichever loaded first. Our machines have the wheels even without a GPU, so NCCL code compiles
# and links everywhere; at run time it is used only when a CUDA device is present. NCCL_HOME points
# at another NCCL (a LibTorch that is not a wheel).
set(PELICAN_HAVE_NCCL OFF)
if(PELICAN_WITH_CUDA AND TARGET torch_cuda)
  get_filename_component(_pelican_nvidia "${TORCH_INSTALL_PREFIX}/../nvidia" ABSOLUTE)
  find_path(NCCL_INCLUDE_DIR nccl.h HINTS ENV NCCL_HOME "${_pelican_nvidia}/nccl"
            PATH_SUFFIXES include NO_DEFAULT_PATH)
  find_library(NCCL_LIBRARY NAMES nccl libnccl.so.2 HINTS ENV NCCL_HOME "${_pelican_nvidia}/nccl"
               PATH_SUFFIXES lib lib64 NO_DEFAULT_PATH)
  find_library(PELICAN_CUDART_LIBRARY NAMES libcudart.so.13 libcudart.so.12 cudart
               HINTS "${_pelican_nvidia}/cu13" "${_pelican_nvidia}/cuda_runtime"
               PATH_SUFFIXES lib NO_DEFAULT_PATH)
  if(NOT PELICAN_CUDART_LIBRARY AND TARGET CUDA::cudart)
    set(PELICAN_CUDART_LIBRARY CUDA::cudart)
  endif()
  if(NCCL_INCLUDE_DIR AND NCCL_LIBRARY AND PELICAN_CUDART_LIBRARY)
    set(PELICAN_HAVE_NCCL ON)
    add_library(pelican_nccl INTERFACE)
    add_library(pelican::nccl ALIAS pelican_nccl)
    target_include_directories(pelican_nccl INTERFACE ${NCCL_INCLUDE_DIR} ${CUDAToolkit_INCLUDE_DIRS})
    target_link_libraries(pelican_nccl INTERFACE ${NCCL_LIBRARY} ${PELICAN_CUDART_LIBRARY})
    message(STATUS "pelican: NCCL ${NCCL_LIBRARY}, CUDA runtime ${PELICAN_CUDART_LIBRARY}")
    get_filename_component(_nccl_dir "${NCCL_LIBRARY}" DIRECTORY)
    get_filename_component(_cudart_dir "${PELICAN_CUDART_LIBRARY}" DIRECTORY)
    set(PELICAN_CUDA_LIB_DIRS "${_cudart_dir};${_nccl_dir}")
  else()
    message(STATUS "pelican: NCCL or the CUDA runtime not found beside LibTorch; NCCL code paths disabled")
  endif()
else()
  message(STATUS "pelican: LibTorch is a CPU build (or PELICAN_WITH_CUDA=OFF); NCCL code paths disabled")
endif()
