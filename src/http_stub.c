/* Placeholder until the HTTP endpoint lands: every call reports CPUPROF_ENOTSUP. */
#include "cpuprof.h"

CPUPROF_API int cpuprof_http_start(const char *addr, int port, int hz)
{
	(void)addr;
	(void)port;
	(void)hz;
	return CPUPROF_ENOTSUP;
}
CPUPROF_API int cpuprof_http_stop(void)
{
	return CPUPROF_ENOTSUP;
}
CPUPROF_API int cpuprof_http_set_max_seconds(int max_seconds)
{
	(void)max_seconds;
	return CPUPROF_ENOTSUP;
}
CPUPROF_API int cpuprof_periodic_start(const char *dir, int seconds, int keep, int hz)
{
	(void)dir;
	(void)seconds;
	(void)keep;
	(void)hz;
	return CPUPROF_ENOTSUP;
}
CPUPROF_API int cpuprof_periodic_stop(void)
{
	return CPUPROF_ENOTSUP;
}
