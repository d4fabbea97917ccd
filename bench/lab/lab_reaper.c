/*
 * lab_reaper.c - init of the PID namespace a lab restore runs in.
 *
 *   lab_reaper LOG CMD [ARG...]
 *
 * Runs CMD (the restore-and-drive script) and reaps every process of the
 * namespace: `criu restore -d` leaves the restored task to the
 * namespace's init, and only the init can learn how it ended.  Each
 * reaped process is appended to LOG as one line,
 *
 *     pid=N exited=STATUS        or        pid=N signal=NAME
 *
 * (SIGILL is "signal=ILL").  When CMD exits, everything left in the
 * namespace is killed (those lines are not logged: the lab decided their
 * fate already) and lab_reaper exits with CMD's status.  Built statically
 * by bench/lab.sh, so it runs in the guest's root whatever its libc.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static void log_status(FILE *log, pid_t pid, int status)
{
	if (WIFEXITED(status))
		fprintf(log, "pid=%d exited=%d\n", (int)pid, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		fprintf(log, "pid=%d signal=%s\n", (int)pid, sigabbrev_np(WTERMSIG(status)) ?
			sigabbrev_np(WTERMSIG(status)) : "?");
	fflush(log);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: lab_reaper LOG CMD [ARG...]\n");
		return 2;
	}
	FILE *log = fopen(argv[1], "a");
	if (log == NULL) {
		fprintf(stderr, "lab_reaper: cannot open %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	/* Outside a new PID namespace, still adopt the orphans. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
		fprintf(stderr, "lab_reaper: PR_SET_CHILD_SUBREAPER: %s\n", strerror(errno));
	pid_t cmd = fork();
	if (cmd < 0) {
		fprintf(stderr, "lab_reaper: fork: %s\n", strerror(errno));
		return 2;
	}
	if (cmd == 0) {
		execvp(argv[2], argv + 2);
		fprintf(stderr, "lab_reaper: cannot run %s: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	int cmd_status = 0;
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, 0);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			break;          /* ECHILD: nothing left */
		}
		if (pid == cmd) {
			cmd_status = status;
			break;
		}
		log_status(log, pid, status);
	}
	/* The script is done: end the rest of the namespace. */
	if (getpid() == 1)
		kill(-1, SIGKILL);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	fclose(log);
	if (WIFEXITED(cmd_status))
		return WEXITSTATUS(cmd_status);
	return 128 + (WIFSIGNALED(cmd_status) ? WTERMSIG(cmd_status) : 0);
}
