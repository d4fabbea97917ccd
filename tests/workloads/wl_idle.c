/* wl_idle: a single-threaded process that sleeps in a loop (pause figures). */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	printf("ready pid=%d\n", (int)getpid());
	fflush(stdout);
	for (;;)
		usleep(1000);
}
