/*
 * bench_http: what the HTTP endpoint costs a program. Prints "key value" lines:
 *   idle_rss_delta_kb     VmRSS after cpuprof_http_start minus before (idle server)
 *   idle_threads_delta    threads the idle server adds
 *   idle_server_cpu_ns    CPU time the whole process used over IDLE seconds of an idle
 *                         server (its listening thread's wakeups), the main thread asleep
 *   scrape_rss_delta_kb   VmRSS after one seconds=1 scrape answered, minus the idle RSS
 * Scrape-time costs are measured from outside (curl against a busy program); see
 * docs/HTTP.md. Usage: bench_http [IDLE_SECONDS]   (default 5)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_common.h"
#include "cpuprof.h"

static long status_field(const char *name)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = 0;
	size_t n = strlen(name);
	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, name, n) == 0) {
			v = atol(line + n);
		}
	}
	if (f) {
		fclose(f);
	}
	return v;
}

static int scrape(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		return -1;
	}
	static const char req[] = "GET /debug/pprof/profile?seconds=1 HTTP/1.0\r\n\r\n";
	if (write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1)) {
		close(fd);
		return -1;
	}
	char buf[4096];
	long total = 0;
	ssize_t r;
	while ((r = read(fd, buf, sizeof(buf))) > 0) {
		total += r;
	}
	close(fd);
	return total > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	int idle = argc > 1 ? atoi(argv[1]) : 5;
	struct bench_region r;
	bench_begin(&r);
	long rss0 = status_field("VmRSS:"), th0 = status_field("Threads:");
	int port = cpuprof_http_start(NULL, 0, 100);
	if (port <= 0) {
		fprintf(stderr, "bench_http: %s\n", cpuprof_strerror(port));
		return 1;
	}
	long rss1 = status_field("VmRSS:"), th1 = status_field("Threads:");
	int64_t c0 = bench_ns(CLOCK_PROCESS_CPUTIME_ID);
	sleep((unsigned)idle);
	int64_t c1 = bench_ns(CLOCK_PROCESS_CPUTIME_ID);
	if (scrape(port) != 0) {
		fprintf(stderr, "bench_http: the scrape failed\n");
		return 1;
	}
	long rss2 = status_field("VmRSS:");
	FILE *o = bench_out();
	fprintf(o, "idle_rss_delta_kb %ld\nidle_threads_delta %ld\n", rss1 - rss0, th1 - th0);
	fprintf(o, "idle_server_cpu_ns %lld\n", (long long)(c1 - c0));
	fprintf(o, "scrape_rss_delta_kb %ld\n", rss2 - rss1);
	cpuprof_http_stop();
	bench_end(&r);
	return 0;
}
