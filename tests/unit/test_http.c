/*
 * http: the query parser as a table of exact cases (negative cases first-class), then the
 * server's start/stop contract (addresses, ports, errors) and one live request over
 * loopback answered with the right status and headers.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "cpuprof.h"
#include "http.h"

struct qcase {
	const char *q;
	int max;
	int want_err;
	int want_seconds;
	int want_hz;
};

static const struct qcase cases[] = {
    {"", 300, CPUPROF__HTTP_QOK, 30, 0},
    {"seconds=5", 300, CPUPROF__HTTP_QOK, 5, 0},
    {"seconds=300", 300, CPUPROF__HTTP_QOK, 300, 0},
    {"seconds=0005", 300, CPUPROF__HTTP_QOK, 5, 0},
    {"seconds=%31%34", 300, CPUPROF__HTTP_QOK, 14, 0},
    {"%73econds=2", 300, CPUPROF__HTTP_QOK, 2, 0},
    {"seconds=14&hz=250", 300, CPUPROF__HTTP_QOK, 14, 250},
    {"hz=1000000", 300, CPUPROF__HTTP_QOK, 30, 1000000},
    {"debug=1&seconds=3&gc=1", 300, CPUPROF__HTTP_QOK, 3, 0},
    {"&&seconds=3&", 300, CPUPROF__HTTP_QOK, 3, 0},
    {"second=3", 300, CPUPROF__HTTP_QOK, 30, 0},
    {"secondsx=3", 300, CPUPROF__HTTP_QOK, 30, 0},
    {"", 10, CPUPROF__HTTP_QOK, 10, 0}, /* the default is capped by the maximum */
    {"seconds=abc", 300, CPUPROF__HTTP_QSECONDS, 0, 0},
    {"seconds=", 300, CPUPROF__HTTP_QSECONDS, 0, 0},
    {"seconds", 300, CPUPROF__HTTP_QSECONDS, 0, 0},
    {"seconds=0", 300, CPUPROF__HTTP_QSECONDS, 0, 0},
    {"seconds=-1", 300, CPUPROF__HTTP_QSECONDS, 0, 0},
    {"seconds=+1", 300, CPUPROF__HTTP_QSECONDS, 0, 0},
    {"seconds=1.5", 300, CPUPROF__HTTP_QSECONDS, 0, 0},
    {"seconds=1+", 300, CPUPROF__HTTP_QSECONDS, 0, 0},
    {"seconds=%00", 300, CPUPROF__HTTP_QSECONDS, 0, 0},
    {"seconds=301", 300, CPUPROF__HTTP_QTOOLONG, 0, 0},
    {"seconds=999999", 300, CPUPROF__HTTP_QTOOLONG, 0, 0},
    {"seconds=99999999999999999999999999", 300, CPUPROF__HTTP_QTOOLONG, 0, 0},
    {"seconds=00000000000000000000000000000005", 300, CPUPROF__HTTP_QOK, 5, 0}, /* 32 bytes */
    {"seconds=000000000000000000000000000000005", 300, CPUPROF__HTTP_QSECONDS, 0, 0},
    {"seconds=%30%30%30%30%30%30%30%30%30%30%30%30%30%30%30%30%30%30%30%30%30%30%30%30%30"
     "%30%30%30%30%30%30%30%35",
     300, CPUPROF__HTTP_QSECONDS, 0, 0},
    {"%53econds=2", 300, CPUPROF__HTTP_QOK, 30, 0}, /* "Seconds": keys are case-sensitive */
    {"seconds%3D4", 300, CPUPROF__HTTP_QOK, 30, 0}, /* an escaped '=' is part of the key */
    {"x=%4a&seconds=4", 300, CPUPROF__HTTP_QOK, 4, 0},
    {"%x=1", 300, CPUPROF__HTTP_QMALFORMED, 0, 0},
    {"seconds=1&x=%", 300, CPUPROF__HTTP_QMALFORMED, 0, 0},
    {"seconds=%zz", 300, CPUPROF__HTTP_QMALFORMED, 0, 0},
    {"seconds=%3", 300, CPUPROF__HTTP_QMALFORMED, 0, 0},
    {"x=%", 300, CPUPROF__HTTP_QMALFORMED, 0, 0},
    {"%g0=1", 300, CPUPROF__HTTP_QMALFORMED, 0, 0},
    {"seconds=1&seconds=2", 300, CPUPROF__HTTP_QDUPLICATE, 0, 0},
    {"hz=1&hz=1", 300, CPUPROF__HTTP_QDUPLICATE, 0, 0},
    {"hz=0", 300, CPUPROF__HTTP_QHZ, 0, 0},
    {"hz=1000001", 300, CPUPROF__HTTP_QHZ, 0, 0},
    {"hz=fast", 300, CPUPROF__HTTP_QHZ, 0, 0},
};

static void test_parser(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct qcase *c = &cases[i];
		struct cpuprof__http_query q = {-1, -1};
		int err = cpuprof__http_parse_query(c->q, strlen(c->q), c->max, &q);
		if (err != c->want_err) {
			fprintf(stderr, "case \"%s\":\n", c->q);
		}
		CHECK_EQ(err, c->want_err);
		if (err == CPUPROF__HTTP_QOK) {
			CHECK_EQ(q.seconds, c->want_seconds);
			CHECK_EQ(q.hz, c->want_hz);
		}
		/* The error text never contains the input. */
		const char *msg = cpuprof__http_query_error(err);
		CHECK(msg && strchr(msg, '\n') == NULL);
	}
	/* Not NUL-terminated: only len bytes are read. */
	const char buf[] = {'s', 'e', 'c', 'o', 'n', 'd', 's', '=', '7', '9'};
	struct cpuprof__http_query q;
	CHECK_EQ(cpuprof__http_parse_query(buf, 9, 300, &q), CPUPROF__HTTP_QOK);
	CHECK_EQ(q.seconds, 7);
	CHECK_EQ(cpuprof__http_parse_query(NULL, 0, 300, &q), CPUPROF__HTTP_QOK);
	CHECK_EQ(q.seconds, 30);
}

/* One request over loopback; returns the status and copies the response head. */
static int request(int port, const char *req, char *head, size_t headsz)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	REQUIRE(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	REQUIRE(write(fd, req, strlen(req)) == (ssize_t)strlen(req));
	size_t n = 0;
	ssize_t r;
	while (n + 1 < headsz && (r = read(fd, head + n, headsz - 1 - n)) > 0) {
		n += (size_t)r;
	}
	head[n] = 0;
	close(fd);
	int status = 0;
	sscanf(head, "HTTP/1.%*d %d", &status);
	return status;
}

static void test_server(void)
{
	CHECK_EQ(cpuprof_http_stop(), CPUPROF_ENOTRUNNING);
	CHECK_EQ(cpuprof_http_start("not-an-address", 0, 100), CPUPROF_EINVAL);
	CHECK_EQ(cpuprof_http_start("", 0, 100), CPUPROF_EINVAL);
	CHECK_EQ(cpuprof_http_start("127.0.0.1", -1, 100), CPUPROF_EINVAL);
	CHECK_EQ(cpuprof_http_start("127.0.0.1", 65536, 100), CPUPROF_EINVAL);
	CHECK_EQ(cpuprof_http_start("127.0.0.1", 0, -1), CPUPROF_EINVAL);
	/* TEST-NET-1 is not an address of this host: bind fails. */
	CHECK_EQ(cpuprof_http_start("192.0.2.1", 0, 100), CPUPROF_EHTTP);
	CHECK_EQ(cpuprof_http_set_max_seconds(0), CPUPROF_EINVAL);

	int port = cpuprof_http_start(NULL, 0, 100);
	REQUIRE(port > 0);
	CHECK_EQ(cpuprof_http_start(NULL, 0, 100), CPUPROF_ERUNNING);

	/* A port in use (ours) by a second server of this process is ERUNNING above; by
	 * another socket it is a bind failure. */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	socklen_t sl = sizeof(sa);
	REQUIRE(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(fd, 1) == 0);
	REQUIRE(getsockname(fd, (struct sockaddr *)&sa, &sl) == 0);

	char head[4096];
	CHECK_EQ(request(port, "GET /debug/pprof/ HTTP/1.0\r\n\r\n", head, sizeof(head)), 200);
	CHECK(strstr(head, "text/html") != NULL);
	CHECK_EQ(request(port, "GET /debug/pprof/profile?seconds=x HTTP/1.0\r\n\r\n", head,
	                 sizeof(head)),
	         400);
	CHECK(strstr(head, "X-Go-Pprof: 1") != NULL);
	CHECK_EQ(request(port, "DELETE /debug/pprof/profile HTTP/1.0\r\n\r\n", head, sizeof(head)),
	         405);
	CHECK(strstr(head, "Allow: GET") != NULL);
	CHECK_EQ(request(port, "GET /debug/pprof/heap HTTP/1.0\r\n\r\n", head, sizeof(head)), 404);
	CHECK_EQ(cpuprof_http_set_max_seconds(2), 0);
	CHECK_EQ(request(port, "GET /debug/pprof/profile?seconds=3 HTTP/1.0\r\n\r\n", head,
	                 sizeof(head)),
	         400);
	CHECK(strstr(head, "maximum of 2") != NULL);
	CHECK_EQ(cpuprof_http_set_max_seconds(CPUPROF__HTTP_DEFAULT_MAX_SECONDS), 0);
	CHECK_EQ(request(port, "GET /debug/pprof/profile?seconds=1 HTTP/1.0\r\n\r\n", head,
	                 sizeof(head)),
	         200);
	CHECK(strstr(head, "Content-Type: application/octet-stream") != NULL);
	CHECK(strstr(head, "Content-Disposition: attachment; filename=\"profile\"") != NULL);
	CHECK(strstr(head, "X-Content-Type-Options: nosniff") != NULL);
	/* The body follows the head: a gzip stream. */
	char *body = strstr(head, "\r\n\r\n");
	CHECK(body && (unsigned char)body[4] == 0x1f && (unsigned char)body[5] == 0x8b);
	CHECK_EQ(cpuprof_http_stop(), 0);
	CHECK_EQ(cpuprof_http_stop(), CPUPROF_ENOTRUNNING);

	CHECK_EQ(cpuprof_http_start("127.0.0.1", ntohs(sa.sin_port), 100), CPUPROF_EHTTP);
	close(fd);
	/* Restart on the port just freed; then IPv6 loopback where the host has it. */
	int again = cpuprof_http_start("127.0.0.1", port, 0);
	CHECK_EQ(again, port);
	CHECK_EQ(cpuprof_http_stop(), 0);
	int p6 = cpuprof_http_start("::1", 0, 0);
	CHECK(p6 > 0 || p6 == CPUPROF_EHTTP);
	if (p6 > 0) {
		CHECK_EQ(cpuprof_http_stop(), 0);
	}
}

int main(void)
{
	test_parser();
	test_server();
	return check_exit();
}
