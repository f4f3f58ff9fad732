/* pause: the sandbox process (PID 1) of every pod of the edgex-smoke lab cluster.
 *
 * Waits forever; exits 0 on SIGINT or SIGTERM; reaps the zombies it inherits on SIGCHLD.
 * Build: gcc -Os -Wall -Werror -static -s -o pause pause.c
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_stop(int signo) {
    (void)signo;
    _exit(0);
}

static void on_child(int signo) {
    (void)signo;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

int main(int argc, char **argv) {
    struct sigaction stop, child;
    sigset_t handled, waiting;

    if (argc > 1 && strcmp(argv[1], "-v") == 0) {
        puts("edgex-smoke-lab pause 1");
        return 0;
    }
    if (getpid() != 1) {
        fputs("pause: warning: not running as PID 1\n", stderr);
    }
    /* The handled signals stay blocked except inside sigsuspend, so none is lost between waits. */
    sigemptyset(&handled);
    sigaddset(&handled, SIGINT);
    sigaddset(&handled, SIGTERM);
    sigaddset(&handled, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &handled, &waiting) < 0) {
        return 1;
    }
    memset(&stop, 0, sizeof stop);
    stop.sa_handler = on_stop;
    memset(&child, 0, sizeof child);
    child.sa_handler = on_child;
    child.sa_flags = SA_NOCLDSTOP;
    if (sigaction(SIGINT, &stop, NULL) < 0 || sigaction(SIGTERM, &stop, NULL) < 0 ||
        sigaction(SIGCHLD, &child, NULL) < 0) {
        return 1;
    }
    sigdelset(&waiting, SIGINT);
    sigdelset(&waiting, SIGTERM);
    sigdelset(&waiting, SIGCHLD);
    for (;;) {
        sigsuspend(&waiting);
    }
}
