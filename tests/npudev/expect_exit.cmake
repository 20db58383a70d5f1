# Run CMD (arguments separated by "@@") and check its exit status and output:
#   cmake -DCMD=prog@@arg... -DEXPECT_EXIT=N [-DEXPECT_OUTPUT=regex] -P expect_exit.cmake
string(REPLACE "@@" ";" CMD "${CMD}")
execute_process(COMMAND ${CMD} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT rc STREQUAL "${EXPECT_EXIT}")
	message(FATAL_ERROR "exit status ${rc}, expected ${EXPECT_EXIT}")
endif()
if(DEFINED EXPECT_OUTPUT AND NOT "${out}${err}" MATCHES "${EXPECT_OUTPUT}")
	message(FATAL_ERROR "output does not match '${EXPECT_OUTPUT}'")
endif()
