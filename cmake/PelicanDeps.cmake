# Every third-party dependency, found once here. See the README's "Dependencies" for why each is used.

find_package(Threads REQUIRED)
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(absl CONFIG REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED)
find_package(GTest CONFIG REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(Gloo CONFIG REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
find_package(ICU REQUIRED COMPONENTS uc)

# LibTorch: Debian's CPU build by default; point Torch_DIR (or CMAKE_PREFIX_PATH) at a CUDA LibTorch,
# e.g. the one inside a PyTorch install, to build the same tree for GPUs.
find_package(Torch REQUIRED)
message(STATUS "pelican: LibTorch ${Torch_VERSION} at ${Torch_DIR}")

find_program(GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)

# CUDA toolkit and NCCL: our machines have both even without a GPU, so NCCL code compiles and links
# everywhere; at run time it is used only when a CUDA device is present.
set(PELICAN_HAVE_NCCL OFF)
if(PELICAN_WITH_CUDA)
  find_package(CUDAToolkit QUIET)
  find_path(NCCL_INCLUDE_DIR nccl.h
            HINTS ENV NCCL_HOME ${CUDAToolkit_INCLUDE_DIRS} /usr/local/cuda/include
            PATH_SUFFIXES include)
  find_library(NCCL_LIBRARY nccl
               HINTS ENV NCCL_HOME ${CUDAToolkit_LIBRARY_DIR} /usr/local/cuda/lib64 /usr/local/cuda/lib
               PATH_SUFFIXES lib lib64)
  if(CUDAToolkit_FOUND AND NCCL_INCLUDE_DIR AND NCCL_LIBRARY)
    set(PELICAN_HAVE_NCCL ON)
    add_library(pelican_nccl INTERFACE)
    add_library(pelican::nccl ALIAS pelican_nccl)
    target_include_directories(pelican_nccl INTERFACE ${NCCL_INCLUDE_DIR})
    target_link_libraries(pelican_nccl INTERFACE ${NCCL_LIBRARY} CUDA::cudart)
    message(STATUS "pelican: NCCL ${NCCL_LIBRARY} (CUDA ${CUDAToolkit_VERSION})")
    # Not Debian packages: a runtime image gets them from the CUDA base image instead.
    get_filename_component(nccl_dir "${NCCL_LIBRARY}" DIRECTORY)
    set(PELICAN_CUDA_LIB_DIRS "${CUDAToolkit_LIBRARY_DIR};${nccl_dir}")
  else()
    message(STATUS "pelican: CUDA toolkit or NCCL not found; NCCL code paths disabled")
  endif()
endif()
