# Compiler flags shared by every target, and helpers for per-ISA kernel files.

# POSIX/GNU interfaces (mmap, pthreads, getauxval) with -std=c11.
add_compile_definitions(_GNU_SOURCE)
add_compile_options(-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla)
if(RB_WERROR)
  add_compile_options(-Werror)
endif()

if(RB_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  set(RB_ARCH_X86_64 ON)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64)$")
  set(RB_ARCH_AARCH64 ON)
endif()

# Per-ISA flags for kernel source files; the baseline build stays generic and
# the best kernel is chosen at run time (cpuid / AT_HWCAP).
set(RB_FLAGS_AVX2     -mavx2 -mfma -mf16c -mbmi2)
set(RB_FLAGS_AVX512   -mavx2 -mfma -mf16c -mbmi2 -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni)
# Cortex-A76/A55 (RK3588): ARMv8.2-A with dot product and fp16 arithmetic.
set(RB_FLAGS_NEON_DOT -march=armv8.2-a+dotprod+fp16)

# rb_add_isa_sources(<target> <flags-var> <sources...>)
function(rb_add_isa_sources target flags_var)
  target_sources(${target} PRIVATE ${ARGN})
  set_source_files_properties(${ARGN} TARGET_DIRECTORY ${target}
                              PROPERTIES COMPILE_OPTIONS "${${flags_var}}")
endfunction()
