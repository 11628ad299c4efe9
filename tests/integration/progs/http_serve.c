/*
 * http_serve: the program behind test_http.sh.
 *
 *   http_serve serve PORTFILE [FILEPROFILE]
 *     Serves /debug/pprof on 127.0.0.1 (a free port, written to PORTFILE once bound) at
 *     100 Hz and burns CPU in hot_http_burn() until SIGUSR1 or SIGTERM. With FILEPROFILE
 *     it also profiles itself to that file the whole time. At the signal it stops the file
 *     profile and the server, prints "stopped", and exits 0.
 *   http_serve halfopen PORT MAXSECONDS
 *     Connects, sends half a request and waits for the server to drop the connection.
 *     Prints "connected" at once, then "closed <seconds>" (exit 0) or "still open" (1).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cpuprof.h"

static volatile sig_atomic_t done;
static volatile double sink;
static volatile int burn_iters = 2000000; /* volatile: the burn cannot be hoisted */

static void on_signal(int sig)
{
	(void)sig;
	done = 1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static double hot_http_burn(void)
{
	double x = 1;
	int n = burn_iters;
	for (int i = 1; i < n; i++) {
		x += 1.0 / (double)i;
	}
	return x;
}

static int serve(const char *portfile, const char *fileprofile)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (fileprofile) {
		int err = cpuprof_start(fileprofile, 100);
		if (err) {
			fprintf(stderr, "http_serve: cpuprof_start: %s\n", cpuprof_strerror(err));
			return 1;
		}
	}
	int port = cpuprof_http_start("127.0.0.1", 0, 100);
	if (port <= 0) {
		fprintf(stderr, "http_serve: cpuprof_http_start: %s\n", cpuprof_strerror(port));
		return 1;
	}
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", portfile);
	FILE *f = fopen(tmp, "w");
	if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 || rename(tmp, portfile) != 0) {
		fprintf(stderr, "http_serve: cannot write %s\n", portfile);
		return 1;
	}
	printf("port %d\n", port);
	fflush(stdout);
	while (!done) {
		sink = hot_http_burn();
	}
	int rc = 0;
	if (fileprofile) {
		int err = cpuprof_stop();
		if (err) {
			fprintf(stderr, "http_serve: cpuprof_stop: %s\n", cpuprof_strerror(err));
			rc = 1;
		}
	}
	int err = cpuprof_http_stop();
	if (err) {
		fprintf(stderr, "http_serve: cpuprof_http_stop: %s\n", cpuprof_strerror(err));
		rc = 1;
	}
	printf("stopped\n");
	return rc;
}

static int halfopen(int port, double max_seconds)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		perror("http_serve: connect");
		return 2;
	}
	static const char part[] = "GET /debug/pprof/profile?seconds=1 HTTP/1.1\r\nHost: x\r\n";
	if (write(fd, part, sizeof(part) - 1) != (ssize_t)(sizeof(part) - 1)) {
		perror("http_serve: write");
		return 2;
	}
	double t0 = now_s();
	printf("connected\n");
	fflush(stdout);
	for (;;) {
		double left = t0 + max_seconds - now_s();
		if (left <= 0) {
			printf("still open\n");
			return 1;
		}
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, (int)(left * 1000) + 1) > 0) {
			char b[256];
			ssize_t n = read(fd, b, sizeof(b));
			if (n <= 0) {
				printf("closed %.2f\n", now_s() - t0);
				return 0;
			}
		}
	}
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "serve") == 0) {
		return serve(argv[2], argc > 3 ? argv[3] : NULL);
	}
	if (argc == 4 && strcmp(argv[1], "halfopen") == 0) {
		return halfopen(atoi(argv[2]), atof(argv[3]));
	}
	fprintf(stderr,
	        "usage: http_serve serve PORTFILE [FILEPROFILE] | halfopen PORT MAXSECONDS\n");
	return 2;
}
