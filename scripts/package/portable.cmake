# connreset-portable: the objects of connreset, linked with -static, so that one file runs on
# any x86-64 distribution whose kernel has BTF, whatever libbpf/libelf/zlib/libnl/glibc/libstdc++
# it has or lacks (scripts/vmtest.sh runs this file in every VM; the container image ships it).
#
# Not through the connreset_core target: its link interface names the shared objects by full
# path (pkg-config IMPORTED_TARGET), which a static link cannot use. The archives come from the
# same Debian -dev packages (libbpf-dev, libelf-dev, zlib1g-dev, libnl-3-dev, libnl-route-3-dev,
# libseccomp-dev).
# Debian 12's libelf is built without zstd, so there is no libzstd to add.
pkg_check_modules(PORTABLE_DEPS REQUIRED libbpf libnl-route-3.0 libseccomp)

add_executable(connreset-portable ${CMAKE_SOURCE_DIR}/src/main.cpp)
add_dependencies(connreset-portable connreset_core)
target_compile_options(connreset-portable PRIVATE ${CONNRESET_WARNINGS})
# the same headers as connreset_core (src/, bpf/ for the kernel/user contract, the generated
# skeleton), taken from it so that a new include directory cannot be missed here
target_include_directories(connreset-portable PRIVATE
  $<TARGET_PROPERTY:connreset_core,INTERFACE_INCLUDE_DIRECTORIES>)
target_link_libraries(connreset-portable PRIVATE
  $<TARGET_FILE:connreset_core>
  CLI11::CLI11 nlohmann_json::nlohmann_json  # header-only
  ${PORTABLE_DEPS_STATIC_LIBRARIES})         # bpf elf z nl-route-3 nl-3 seccomp pthread
# -static: glibc, libstdc++ and libgcc too. The linker warns about getaddrinfo (the metrics
# address: numeric only, which needs no NSS module) and about the user lookups of `run`
# (getpwnam/getpwuid/getgrouplist for --user and sudo's invoking user): those load the host's
# NSS modules at run time, which works where the host's glibc matches and otherwise finds no
# user (then `run --user root`, or the Debian package).
target_link_options(connreset-portable PRIVATE -static)
