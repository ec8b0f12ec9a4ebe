# The Debian package (scripts/package.sh runs `cpack -G DEB`). Contents are the install rules of
# scripts/package/install.cmake under /usr, stripped; dependencies come from dpkg-shlibdeps on the
# binary (libbpf1, libelf1, zlib1g, libnl-3-200, libnl-route-3-200, libstdc++6, libc6 ...), so
# they are the ones it really links. No maintainer scripts: the systemd unit is installed, not
# enabled (it journals every reset of the host; `systemctl enable --now connreset-record`).
set(CPACK_PACKAGE_NAME connreset)
set(CPACK_PACKAGE_VENDOR "connreset")
set(CPACK_PACKAGE_CONTACT "connreset dev <dev@connreset.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "eBPF tracer explaining TCP connection resets")
# The long description; CPack puts the summary above it and indents each line.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "When a program gets ECONNRESET (connection reset by peer), connreset names the
process that reset the connection, the kernel path that sent the RST, the
evidence read from the socket, and what to change. Live tracing (text or JSON
lines), journals with rotation and Prometheus metrics, and post-mortem
reports merging several hosts. Needs a kernel with BTF (5.10 or newer).")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
# Debian wants /usr/share/doc/<package>/copyright and a changelog in every binary package.
set(CONNRESET_DOC_DIR ${CMAKE_INSTALL_DATADIR}/doc/connreset)
install(FILES ${CMAKE_SOURCE_DIR}/scripts/package/debian/copyright DESTINATION ${CONNRESET_DOC_DIR})
add_custom_command(
  OUTPUT ${CMAKE_BINARY_DIR}/changelog.Debian.gz
  COMMAND ${GZIP} -9nc ${CMAKE_SOURCE_DIR}/scripts/package/debian/changelog > ${CMAKE_BINARY_DIR}/changelog.Debian.gz
  DEPENDS ${CMAKE_SOURCE_DIR}/scripts/package/debian/changelog
  COMMENT "Compressing the Debian changelog")
add_custom_target(connreset_changelog ALL DEPENDS ${CMAKE_BINARY_DIR}/changelog.Debian.gz)
install(FILES ${CMAKE_BINARY_DIR}/changelog.Debian.gz DESTINATION ${CONNRESET_DOC_DIR})
include(CPack)
