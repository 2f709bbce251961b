// Package terminal is the sandboxed shell behind kubesim's browser terminal.
//
// A Session is one learner's shell: a bash-like interpreter (mvdan.cc/sh/v3) whose every contact
// with the outside world is routed to code in this package. Files live in an in-memory file system
// (memfs), commands are Go functions (the built-in coreutils here, plus whatever the caller injects:
// kubectl, crictl, ssh), and nothing ever reaches the host: no host files, no host environment, no
// processes, no network.
//
// A Session is driven either one script at a time (Exec, for tests and lesson checks) or as an
// interactive terminal over a byte stream (Run: prompt, line editing, history, tab completion,
// Ctrl-C, full-screen nano and vi).
//
// Safety. Every input is parsed and checked before it runs: background jobs, coprocesses and
// process substitution are refused, and loops, function bodies and pipeline stages get a hidden
// checkpoint command (the "tick") that enforces the limits: time, output size, variable size,
// nesting depth and live pipeline stages. eval, source and alias bodies go through the same check
// because the call handler rewrites them before the interpreter sees them; trap is refused. See
// Limits.
package terminal
