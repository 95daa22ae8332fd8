// berth_start_args gives a constructor the process's argument vector.
//
// glibc passes (argc, argv, envp) to constructors; musl passes nothing. Both
// set environ to the envp the kernel placed on the initial stack before any
// constructor runs, and the System V ABI fixes that stack's layout:
//
//	argc, argv[0] ... argv[argc-1], NULL, envp[0] ... NULL
//
// so argv ends just below environ, and argc is the word below argv[0]: the
// first word counting down from environ[-2] whose value equals the number of
// words passed (every word before it is a pointer into the stack). This holds
// until something calls setenv or putenv, which may move environ to the
// heap; nothing does before the Go runtime starts, which is when berth's
// constructors run (unsetenv, which nsenter.c calls, removes entries in
// place in both libcs). Returns argc and sets *argv, or returns 0 if
// environ does not look like the initial stack.
#include <stdint.h>
#include <unistd.h>

extern char **environ;

int berth_start_args(char ***argv) {
	char **env = environ;
	if (env == NULL || env[-1] != NULL)
		return 0;
	for (uintptr_t i = 0; i < 1u << 20; i++) {
		if ((uintptr_t)env[-2 - (intptr_t)i] == i) {
			*argv = env - 1 - i;
			return (int)i;
		}
	}
	return 0;
}
