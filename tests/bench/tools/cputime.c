/* cputime CMD [ARG...] - run CMD (stdout to /dev/null) and print its CPU time (user + system,
 * ms, microsecond resolution) and peak RSS (KiB): numbers that a busy machine does not inflate
 * the way it inflates wall time. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: cputime CMD [ARG...]\n");
        return 2;
    }
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        execvp(argv[1], argv + 1);
        _exit(127);
    }
    int st;
    struct rusage ru;
    if (wait4(pid, &st, 0, &ru) < 0)
        return 2;
    double ms = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
                (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
    printf("%.2f %ld\n", ms, ru.ru_maxrss);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 2;
}
