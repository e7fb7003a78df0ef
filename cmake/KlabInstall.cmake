include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(DIRECTORY include/klab DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS ${KLAB_ALL_COMPONENTS} klab EXPORT klabTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
if(TARGET klab_cli)
  install(TARGETS klab_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
install(EXPORT klabTargets NAMESPACE klab:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/klab)
configure_package_config_file(cmake/klabConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/klabConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/klab)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/klabConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/klabConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/klabConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/klab)
