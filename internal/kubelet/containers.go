package kubelet

import (
	"strconv"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
)

// Container states as the kubelet sees them through CRI.
type ctrState uint8

const (
	stateCreated ctrState = iota
	stateRunning
	stateExited
)

// ctrRec is the kubelet's view of one container in the runtime (what PLEG caches).
type ctrRec struct {
	id           string
	name         string
	specImage    string // container.Image at creation: with the name, what the container hash covers
	image        string // status image: the image's first repo tag, or its ID
	imageRef     string // status imageID: the image's first repo digest, or its ID
	imageID      string // sha256:<config digest>, for image GC
	state        ctrState
	createdAt    time.Time
	startedAt    time.Time
	finishedAt   time.Time
	exitCode     int32
	reason       string
	restartCount int
	behavior     behavior
	exit         *timer   // the command's own end
	stopping     *timer   // SIGKILL at the end of the grace period
	onExit       []func() // waiting for the container to stop
}

// behavior is what the simulated command does.
type behavior struct {
	runFor     time.Duration // how long it runs before exiting on its own; < 0: until stopped
	exitCode   int32
	ignoreTERM bool // PID 1 without a SIGTERM handler: ends only when killed after the grace period
}

// Exit codes and reasons as containerd reports them.
const (
	exitKilled     = 137 // SIGKILL after the grace period
	reasonComplete = "Completed"
	reasonError    = "Error"
)

func exitReason(code int32) string {
	if code == 0 {
		return reasonComplete
	}
	return reasonError
}

// behaviorOf reads a container's command. The simulation knows a few commands: sleep N, exit N,
// true and false, directly or through sh -c. Anything else runs until it is stopped and exits
// promptly and cleanly on SIGTERM, as a server like nginx does.
func behaviorOf(c *v1.Container) behavior {
	argv := append(append([]string{}, c.Command...), c.Args...)
	if len(argv) == 3 && isShell(argv[0]) && argv[1] == "-c" {
		argv = strings.Fields(argv[2])
	}
	forever := behavior{runFor: -1}
	if len(argv) == 0 {
		return forever
	}
	switch base(argv[0]) {
	case "sleep":
		if len(argv) != 2 {
			return forever
		}
		if argv[1] == "infinity" {
			return behavior{runFor: -1, ignoreTERM: true}
		}
		d, ok := parseSleep(argv[1])
		if !ok {
			return forever
		}
		return behavior{runFor: d, ignoreTERM: true}
	case "exit":
		code := 0
		if len(argv) == 2 {
			n, err := strconv.Atoi(argv[1])
			if err != nil {
				return forever
			}
			code = n & 0xff
		}
		return behavior{exitCode: int32(code)}
	case "true":
		return behavior{}
	case "false":
		return behavior{exitCode: 1}
	}
	return forever
}

func isShell(s string) bool {
	switch s {
	case "sh", "/bin/sh", "bash", "/bin/bash", "ash", "/bin/ash":
		return true
	}
	return false
}

func base(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// parseSleep reads busybox/coreutils sleep's argument: a number with an optional s, m, h or d.
func parseSleep(s string) (time.Duration, bool) {
	unit := time.Second
	switch {
	case strings.HasSuffix(s, "s"):
		s = strings.TrimSuffix(s, "s")
	case strings.HasSuffix(s, "m"):
		s, unit = strings.TrimSuffix(s, "m"), time.Minute
	case strings.HasSuffix(s, "h"):
		s, unit = strings.TrimSuffix(s, "h"), time.Hour
	case strings.HasSuffix(s, "d"):
		s, unit = strings.TrimSuffix(s, "d"), 24*time.Hour
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return 0, false
	}
	return time.Duration(f * float64(unit)), true
}
