/* The error table (cpuprof.h CPUPROF_ERRNO_MAP) as text, and the version. */
#include "cpuprof.h"

CPUPROF_API const char *cpuprof_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
#define CPUPROF_ERRNO_TEXT(name, value, text)                                                    \
	case (value):                                                                            \
		return text;
		CPUPROF_ERRNO_MAP(CPUPROF_ERRNO_TEXT)
#undef CPUPROF_ERRNO_TEXT
	default:
		return "unknown error";
	}
}

CPUPROF_API const char *cpuprof_version(void)
{
	return CPUPROF_VERSION_STRING;
}
