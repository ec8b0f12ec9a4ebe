/*
 * connreset_peer: the far end of the remote-peer tests, run inside a qemu
 * guest (another kernel, another host as far as TCP is concerned). Built
 * statically: the guest is a bare busybox initramfs.
 *
 *   connreset_peer CONTROL_PORT
 *
 * Listens on CONTROL_PORT (IPv4 and IPv6). Each line on a control
 * connection is one command; the answer is one line, "OK ..." or "ERR ...":
 *
 *   serve PORT MODE [ARG]   listen on PORT, then serve ONE connection with MODE
 *                           in a child process ("OK" once listening)
 *   quit                    exit the program (the guest then powers off)
 *
 * MODEs, each the server behaviour behind one way an RST comes from another host:
 *   idleclose MS   keep-alive server: answer each request, close (FIN) after MS idle
 *   race MS        answer the first request; when the next one arrives, leave it
 *                  unread and close MS later: close() sends RST (an idle timer that
 *                  fired as the request came in; waiting for the request keeps the
 *                  race's order however slowly this guest runs)
 *   readclose N    read N bytes, then close with whatever else arrived unread
 *   linger0        read a request, then close with SO_LINGER {1, 0}
 *   die            once a request is waiting, unread, kill itself with SIGKILL
 *   forget         answer the first request, then drop the connection silently
 *                  (TCP_REPAIR close: no FIN, no RST), as a restarted host or an
 *                  expired NAT entry would
 *   sink           read until EOF or error
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef TCP_REPAIR
#define TCP_REPAIR 19
#endif

static const char kResponse[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

static void msleep(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* a dual-stack listener on [::]:port */
static int listen_on(int port)
{
	struct sockaddr_in6 sa;
	int fd = socket(AF_INET6, SOCK_STREAM, 0), one = 1, zero = 0;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	memset(&sa, 0, sizeof(sa));
	sa.sin6_family = AF_INET6;
	sa.sin6_port = htons((unsigned short)port);
	sa.sin6_addr = in6addr_any;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 8) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* wait up to ms (-1: forever) for data; 1 readable, 0 timeout */
static int wait_readable(int fd, int ms)
{
	struct pollfd p = {fd, POLLIN, 0};
	int r;

	while ((r = poll(&p, 1, ms)) < 0 && errno == EINTR)
		;
	return r > 0;
}

/* read what one request sent (whatever is there after the first byte arrives) */
static long read_request(int fd)
{
	char buf[65536];
	long n;

	if (!wait_readable(fd, -1))
		return -1;
	msleep(20); /* the rest of a request written in pieces */
	n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	return n;
}

static void respond(int fd)
{
	if (send(fd, kResponse, sizeof(kResponse) - 1, MSG_NOSIGNAL) < 0)
		_exit(3);
}

static void serve(int fd, const char *mode, long arg)
{
	if (strcmp(mode, "idleclose") == 0) {
		for (;;) {
			if (!wait_readable(fd, (int)arg))
				break; /* idle timeout: orderly close, FIN */
			if (read_request(fd) <= 0)
				break;
			respond(fd);
		}
		close(fd);
	} else if (strcmp(mode, "race") == 0) {
		if (read_request(fd) <= 0)
			_exit(2);
		respond(fd);
		wait_readable(fd, -1); /* the next request is here: leave it unread */
		msleep(arg);
		close(fd);
	} else if (strcmp(mode, "readclose") == 0) {
		char buf[4096];
		long got = 0, n;

		while (got < arg && (n = recv(fd, buf, (size_t)(arg - got < (long)sizeof(buf) ? arg - got : (long)sizeof(buf)), 0)) > 0)
			got += n;
		msleep(50); /* the rest arrives, unread */
		close(fd);
	} else if (strcmp(mode, "linger0") == 0) {
		struct linger l = {1, 0};

		if (read_request(fd) <= 0)
			_exit(2);
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		close(fd);
	} else if (strcmp(mode, "die") == 0) {
		wait_readable(fd, -1);
		msleep(20);
		kill(getpid(), SIGKILL);
	} else if (strcmp(mode, "forget") == 0) {
		int one = 1;

		if (read_request(fd) <= 0)
			_exit(2);
		respond(fd);
		msleep(100); /* our ACK of the response's ACK settles */
		if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &one, sizeof(one)) != 0)
			_exit(4);
		close(fd); /* repair mode: gone without a FIN or RST */
	} else if (strcmp(mode, "sink") == 0) {
		char buf[4096];

		while (recv(fd, buf, sizeof(buf), 0) > 0)
			;
		close(fd);
	}
	_exit(0);
}

/* one "serve PORT MODE [ARG]" command: listen, answer, hand the connection to a child */
static void command(int ctl, char *line)
{
	char mode[32] = "";
	int port = 0;
	long arg = 0;
	int lfd;
	pid_t pid;

	if (strncmp(line, "quit", 4) == 0) {
		dprintf(ctl, "OK bye\n");
		exit(0);
	}
	if (sscanf(line, "serve %d %31s %ld", &port, mode, &arg) < 2) {
		dprintf(ctl, "ERR usage: serve PORT MODE [ARG] | quit\n");
		return;
	}
	lfd = listen_on(port);
	if (lfd < 0) {
		dprintf(ctl, "ERR listen %d: %s\n", port, strerror(errno));
		return;
	}
	pid = fork();
	if (pid == 0) {
		int fd = accept(lfd, NULL, NULL);

		close(lfd); /* one connection per command; the port refuses after it */
		close(ctl);
		if (fd < 0)
			_exit(1);
		serve(fd, mode, arg);
	}
	close(lfd);
	dprintf(ctl, pid > 0 ? "OK %d\n" : "ERR fork\n", port);
}

int main(int argc, char **argv)
{
	int lfd, ctl;
	struct sigaction sa;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CONTROL_PORT\n", argv[0]);
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = SA_NOCLDWAIT; /* children are never waited for */
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	lfd = listen_on(atoi(argv[1]));
	if (lfd < 0) {
		perror("connreset_peer: control listener");
		return 1;
	}
	printf("connreset_peer: control on port %s\n", argv[1]);
	fflush(stdout);
	while ((ctl = accept(lfd, NULL, NULL)) >= 0) {
		char line[256];
		size_t len = 0;
		long n;

		/* line by line until the controller hangs up */
		while ((n = recv(ctl, line + len, 1, 0)) == 1) {
			if (line[len] == '\n' || len == sizeof(line) - 2) {
				line[len + 1] = '\0';
				command(ctl, line);
				len = 0;
			} else {
				len++;
			}
		}
		close(ctl);
	}
	return 1;
}
