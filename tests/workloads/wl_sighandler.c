/*
 * wl_sighandler - a process with two signal handlers, blocked in read().
 *
 * SIGUSR1 has an SA_SIGINFO handler, SIGUSR2 a plain sa_handler; the
 * ready line gives their addresses: "ready handler1=0x... handler2=0x...".
 * The main thread reads stdin one byte at a time and answers "read X"; a
 * read that fails or returns anything but one byte prints "read BAD" and
 * exits 3 (a snapshot that broke the interrupted read's restart).  The
 * handlers print "got usr1" / "got usr2"; EOF exits 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void say(const char *msg)
{
	if (write(STDOUT_FILENO, msg, strlen(msg)) < 0)
		_exit(4);
}

static void handler1(int sig, siginfo_t *si, void *ctx)
{
	(void)sig;
	(void)ctx;
	say(si->si_signo == SIGUSR1 ? "got usr1\n" : "got usr1 BAD\n");
}

static void handler2(int sig)
{
	say(sig == SIGUSR2 ? "got usr2\n" : "got usr2 BAD\n");
}

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = handler1;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler2;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR2, &sa, NULL);

	char line[128];
	snprintf(line, sizeof(line), "ready handler1=%p handler2=%p\n",
		 (void *)handler1, (void *)handler2);
	say(line);

	for (;;) {
		char c;
		ssize_t n = read(STDIN_FILENO, &c, 1);
		if (n == 0)
			return 0;
		if (n != 1) {
			snprintf(line, sizeof(line), "read BAD n=%zd errno=%d\n", n, errno);
			say(line);
			return 3;
		}
		snprintf(line, sizeof(line), "read %c\n", c);
		say(line);
	}
}
