package main

// Signal hygiene for a Go runtime loaded into a host process (Bun) as a c-shared library.
//
// Loading the Go runtime changes the host in two ways that matter (see the os/signal
// package documentation, "Go programs that use cgo or SWIG" / "Non-Go programs that call
// Go code"):
//
//  1. SIGPIPE. Go installs its own SIGPIPE handler over the host's SIG_IGN. It forwards
//     the signal back to SIG_IGN for host threads, but the disposition is no longer
//     "ignored": children inherit a default SIGPIPE instead of an ignored one, and
//     /proc/<pid>/status no longer shows it ignored. We put SIG_IGN back; Go's own
//     writes get EPIPE either way, and this library never writes to stdout/stderr.
//
//  2. Asynchronous signals (SIGINT, SIGTERM, SIGCHLD, SIGPWR, ...). In c-shared mode Go
//     leaves their handlers to the host, but every thread the Go runtime creates inherits
//     the loading thread's signal mask, so a process-directed signal may be delivered to a
//     Go thread and run the host's handler there, possibly on a small goroutine stack (a
//     handler installed after load, such as Bun's SIGINT handler for process.on("SIGINT"),
//     has no SA_ONSTACK). We block those signals while the Go runtime creates its first
//     thread; the runtime saves that mask (initSigmask) and gives it to every thread it
//     starts later, so the kernel always delivers them to a host thread. Synchronous fault
//     signals, SIGPIPE, SIGPROF and SIGURG (Go's preemption signal) stay deliverable.
//
// Both happen in ELF constructors around the Go runtime's own (`_rt0_amd64_lib` and its
// equivalents): the prioritised one runs before every unprioritised constructor, and Go's
// linker places its runtime constructor (in go.o) ahead of the C objects of cgo files, so
// the unprioritised one runs after it. gvproxy_signals_repair re-checks the outcome at
// load time in case a toolchain ever orders them differently. Host threads that call into
// Go keep their own mask. In an executable (go test) both constructors run before the Go
// runtime starts, so they leave the process as they found it.
//
// This file has no //export directive on purpose: cgo copies the preamble of a file with
// exports into two C files, which forbids the definitions below. gvproxy_signals_repair is
// a plain C function with default visibility, so it is exported from the shared object.

/*
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// State captured before the Go runtime starts.
static sigset_t gvproxy_loader_mask;      // the loading thread's mask before we touched it
static int gvproxy_loader_mask_saved;     // whether gvproxy_loader_mask is valid
static int gvproxy_go_threads_masked;     // whether Go's runtime started while masked
static int gvproxy_sigpipe_was_ignored;   // whether the host ignored SIGPIPE before Go

// gvproxy_go_thread_mask: every signal except those a thread must receive where they
// happen (faults), SIGPIPE (raised on the writing thread, and ignored), SIGPROF and
// SIGURG (both used by the Go runtime itself on its threads).
static void gvproxy_go_thread_mask(sigset_t* set) {
	sigfillset(set);
	static const int deliverable[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT,
	                                  SIGSYS, SIGPIPE, SIGPROF, SIGURG};
	for (size_t i = 0; i < sizeof deliverable / sizeof deliverable[0]; i++) {
		sigdelset(set, deliverable[i]);
	}
}

__attribute__((constructor(101)))
static void gvproxy_signals_before_go_runtime(void) {
	struct sigaction current;
	if (sigaction(SIGPIPE, NULL, &current) == 0 && current.sa_handler == SIG_IGN) {
		gvproxy_sigpipe_was_ignored = 1;
	}
	sigset_t block;
	gvproxy_go_thread_mask(&block);
	if (pthread_sigmask(SIG_BLOCK, &block, &gvproxy_loader_mask) == 0) {
		gvproxy_loader_mask_saved = 1;
	}
}

// gvproxy_restore_sigpipe puts SIG_IGN back if the host had it; returns whether SIGPIPE is
// ignored now.
static int gvproxy_restore_sigpipe(void) {
	struct sigaction current;
	if (sigaction(SIGPIPE, NULL, &current) != 0) return 0;
	if (current.sa_handler == SIG_IGN) return 1;
	if (!gvproxy_sigpipe_was_ignored) return 0;
	struct sigaction ignore;
	memset(&ignore, 0, sizeof ignore);
	ignore.sa_handler = SIG_IGN;
	sigemptyset(&ignore.sa_mask);
	return sigaction(SIGPIPE, &ignore, NULL) == 0;
}

// gvproxy_go_signals_installed tells whether the Go runtime's signal setup has run: it
// always installs a handler for SIGURG, its preemption signal, which hosts leave default.
static int gvproxy_go_signals_installed(void) {
	struct sigaction current;
	return sigaction(SIGURG, NULL, &current) == 0 && current.sa_handler != SIG_DFL &&
	       current.sa_handler != SIG_IGN;
}

__attribute__((constructor))
static void gvproxy_signals_after_go_runtime(void) {
	gvproxy_go_threads_masked = gvproxy_loader_mask_saved && gvproxy_go_signals_installed();
	gvproxy_restore_sigpipe();
	// Always unblock the loading thread, even if the runtime has not started yet: leaving
	// the host's thread with SIGINT blocked would be far worse than an unmasked Go thread.
	if (gvproxy_loader_mask_saved) pthread_sigmask(SIG_SETMASK, &gvproxy_loader_mask, NULL);
}

// gvproxy_signals_repair re-applies the SIGPIPE disposition (idempotent) and reports the
// signal state as a result envelope (docs/ABI.md), malloc'd, freed with gvproxy_free:
//   {"ok":true,"value":{"sigpipeIgnored":bool,"sigpipeWasIgnored":bool,"goThreadsMasked":bool}}
// goThreadsMasked is true when the Go runtime started its threads with the host's
// asynchronous signals blocked.
char* gvproxy_signals_repair(void) {
	int ignored = gvproxy_restore_sigpipe();
	int masked = gvproxy_go_threads_masked;
	char* out = malloc(128);
	if (out == NULL) return NULL;
	snprintf(out, 128,
	         "{\"ok\":true,\"value\":{\"sigpipeIgnored\":%s,\"sigpipeWasIgnored\":%s,\"goThreadsMasked\":%s}}",
	         ignored ? "true" : "false", gvproxy_sigpipe_was_ignored ? "true" : "false",
	         masked ? "true" : "false");
	return out;
}
*/
import "C"
