# What `cmake --install` puts in place (and the Debian package ships, scripts/package/cpack.cmake):
#   sbin/connreset                                   (stripped with `cmake --install --strip`)
#   share/man/man8/connreset.8.gz                    docs/connreset.8
#   lib/systemd/system/connreset-record.service      ExecStart pointing at the installed binary
#   share/bash-completion/completions/connreset      scripts/package/completion/connreset.bash
#   share/zsh/vendor-completions/_connreset          scripts/package/completion/_connreset
# Paths are relative to the prefix given at install time (`--prefix`, CPack's /usr), so one
# build tree serves both a /usr/local install and the package.
include(GNUInstallDirs)
set(CONNRESET_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING
    "systemd unit directory (relative: under the install prefix)")
set(CONNRESET_ZSH_COMPLETION_DIR "${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions" CACHE STRING
    "zsh completion directory (Debian's zsh reads vendor-completions; others use site-functions)")

install(TARGETS connreset RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})

# Man pages are installed compressed (Debian policy 12.1); -n: no name or time stamp, so the
# package is reproducible.
find_program(GZIP gzip REQUIRED)
add_custom_command(
  OUTPUT ${CMAKE_BINARY_DIR}/connreset.8.gz
  COMMAND ${GZIP} -9nc ${CMAKE_SOURCE_DIR}/docs/connreset.8 > ${CMAKE_BINARY_DIR}/connreset.8.gz
  DEPENDS ${CMAKE_SOURCE_DIR}/docs/connreset.8
  COMMENT "Compressing the man page")
add_custom_target(connreset_man ALL DEPENDS ${CMAKE_BINARY_DIR}/connreset.8.gz)
install(FILES ${CMAKE_BINARY_DIR}/connreset.8.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)

# The unit in scripts/package/systemd names /usr/sbin/connreset (where the package puts it); an
# install under another prefix gets its own path. Written at install time, when the prefix is
# known: CPack and `cmake --install --prefix` choose it then, not at configure time.
set(CONNRESET_UNIT_OUT ${CMAKE_BINARY_DIR}/install/connreset-record.service)
install(CODE "
  file(READ \"${CMAKE_SOURCE_DIR}/scripts/package/systemd/connreset-record.service\" unit)
  string(REPLACE \"/usr/sbin/connreset\" \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_SBINDIR}/connreset\" unit \"\${unit}\")
  file(WRITE \"${CONNRESET_UNIT_OUT}\" \"\${unit}\")
")
install(FILES ${CONNRESET_UNIT_OUT} DESTINATION ${CONNRESET_SYSTEMD_UNIT_DIR})

install(FILES ${CMAKE_SOURCE_DIR}/scripts/package/completion/connreset.bash
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME connreset)
install(FILES ${CMAKE_SOURCE_DIR}/scripts/package/completion/_connreset
        DESTINATION ${CONNRESET_ZSH_COMPLETION_DIR})
