# Run by `cmake --install` (and so `make install`): the systemd unit and the default
# configuration, with the paths of the prefix being installed to. PREFIX=/usr gives /usr/bin,
# /etc and /lib/systemd/system as Debian lays them out; any other prefix keeps everything under
# it (systemd also reads units from /usr/local/lib/systemd/system). DESTDIR is honoured.
set(prefix "${CMAKE_INSTALL_PREFIX}")
if(prefix STREQUAL "/usr")
  set(sysconfdir "/etc")
  set(unitdir "/lib/systemd/system")
else()
  set(sysconfdir "${prefix}/etc")
  set(unitdir "${prefix}/lib/systemd/system")
endif()

file(READ "${CMAKE_CURRENT_LIST_DIR}/systemd/berth.service" unit)
string(REPLACE "/usr/bin/berth " "${prefix}/bin/berth " unit "${unit}")
string(REPLACE "/etc/berth/berth.yaml" "${sysconfdir}/berth/berth.yaml" unit "${unit}")
message(STATUS "Installing: $ENV{DESTDIR}${unitdir}/berth.service")
file(MAKE_DIRECTORY "$ENV{DESTDIR}${unitdir}")
file(WRITE "$ENV{DESTDIR}${unitdir}/berth.service" "${unit}")

# The configuration is the operator's once installed: never overwritten.
set(config "$ENV{DESTDIR}${sysconfdir}/berth/berth.yaml")
if(EXISTS "${config}")
  message(STATUS "Keeping: ${config}")
else()
  # file(INSTALL) puts DESTDIR in front of the destination itself.
  file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/berth.yaml" DESTINATION "${sysconfdir}/berth"
       FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ
       DIRECTORY_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE)
endif()
