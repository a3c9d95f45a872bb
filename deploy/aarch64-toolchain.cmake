# Cross-compiling for arm64 (Raspberry Pi OS 64-bit, Debian arm64) on an
# amd64 Debian 12 machine, with Debian's cross compiler
# (crossbuild-essential-arm64) and Debian's arm64 libraries: installed by
# multiarch into /usr/lib/aarch64-linux-gnu where the package allows it, the
# others unpacked into CTK_ARM64_SYSROOT (tests/support/arm64.sh packages
# prepares both).
#   cmake -S . -B build/arm64 -DCMAKE_TOOLCHAIN_FILE=deploy/aarch64-toolchain.cmake \
#         -DCTK_ARM64_SYSROOT=$PWD/build/arm64-sysroot
# Tests run under qemu-aarch64 (CMAKE_CROSSCOMPILING_EMULATOR), which needs
# no binfmt: CTest puts it before every test command.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

if(NOT CTK_ARM64_SYSROOT)
  set(CTK_ARM64_SYSROOT "${CMAKE_CURRENT_LIST_DIR}/../build/arm64-sysroot")
endif()
# The toolchain file is read again by try_compile: pass the folder on.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES CTK_ARM64_SYSROOT)

# The unpacked packages first, then the multiarch ones under /.
set(CMAKE_FIND_ROOT_PATH "${CTK_ARM64_SYSROOT}" /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config: arm64's .pc files only (never the build machine's).
set(ENV{PKG_CONFIG_LIBDIR}
    "${CTK_ARM64_SYSROOT}/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# No RPATH into the build machine's folders: the binary goes into a package
# as it is (deploy/package.sh). Under qemu the unpacked libraries (libpqxx)
# are found through the guest's LD_LIBRARY_PATH instead.
set(CMAKE_SKIP_RPATH ON)
# Without -L: the arm64 loader and the other libraries are where multiarch put them.
find_program(CTK_QEMU_AARCH64 qemu-aarch64 REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR
    "${CTK_QEMU_AARCH64};-E;LD_LIBRARY_PATH=${CTK_ARM64_SYSROOT}/usr/lib/aarch64-linux-gnu")
